"""The Matrix adapter: rounds posted in rooms, members answering the bot in direct messages.

On Matrix a reaction or a poll answer is visible to the whole room, so members answer in a
direct message (DM); the room only sees announcements, summaries and moderator commands.

How it keeps Matrix's promises:

* **Sync position.** nio's own store saves the sync token *before* the event callbacks run, so
  a crash mid-handler would skip events. The adapter does not use nio's callbacks or token
  store: a sync loop hands each sync's events, in order, to one worker, and the worker writes
  ``sync_token`` only after it has handled all of them. A restart resumes from that token with
  ``full_state=True`` (nio keeps no room state across restarts). A limited timeline (more
  events than the sync filter returns) is completed with ``/messages`` back to the previous
  token.
* **At most once.** Before an event is acted on, its id is appended to ``seen_events`` (and
  kept in memory); a replayed event is dropped. Only event ids are written there: no user id,
  no room id, no time — nothing that links an event to a position.
* **Each post once.** Every event of a round's post is sent with a transaction id made from
  the post's key (see :class:`bot.events.PostKey`; a split post has one per event) and carries
  that key under ``org.debatebot.post``: the homeserver answers a repeated transaction id of
  this device with the first event, and a delivery retried after a crash first looks for the
  bot's own latest events in the room (``unsigned.transaction_id``, or the key in an
  unencrypted event's content) and sends only what is missing. The key names a round, a kind
  of post and an outbox row, never a member.
* **Members in parallel.** The worker hands each sync's events to one task per sender (a
  member's events stay in order, across syncs too) and goes on to the next sync; a sync token
  is saved once its events and all earlier ones are handled. A member whose command waits on
  a stuck database (at most the engine's budget, see :mod:`bot.outage`) holds up nobody
  else's answer.
* **No history.** The first sync of a fresh bot (no token yet) is history: invites are
  handled, messages are not. In a room the bot has just joined, messages before its arrival
  are history too, except in a DM, where what the member wrote after inviting the bot counts
  (Element sends the first message before the bot has joined).
* **Invites.** Accepted for rooms in ``allowed_rooms`` (a room id, an alias, or ``:server`` for
  rooms whose id or alias is on that server, or whose inviter is) and for the rooms named in the
  debates' channels; DM invites (``is_direct``) from anyone. Others are declined. Invites from
  the first sync (sent while the bot was offline) are handled like any other.
* **Rate limits.** nio retries a 429 forever; here it is told not to, and the client retries
  itself, honouring ``retry_after_ms`` while the total wait for one request stays under
  ``max_rate_limit_wait``; beyond that the request fails (the core's outbox retries posts).
* **Reconnection.** A failed sync is retried with exponential back-off; the worker and the
  token are untouched, so nothing is lost when the homeserver restarts.
* **Encryption.** Device keys and the Olm/Megolm store live in ``data_dir/matrix``. Messages
  are sent with ``ignore_unverified_devices=True``: a bot cannot compare emoji with each member,
  and refusing to send to unverified devices would mean never answering anyone. The content
  is still encrypted for each device of the room; what is given up is the protection against
  a device injected by a malicious homeserver (see docs/matrix.md).
* **No pings.** Every message is an ``m.notice`` with ``"m.mentions": {}``, an HTML
  ``formatted_body`` and a plain ``body``; member text arrives escaped by the core and stays
  escaped in both. Content is split so that no event comes near the 65,536-byte limit.
* **Progress.** ``PROGRESS`` posts edit the round's announcement (``m.replace``) with the
  participation count when this process posted that announcement; otherwise they are ignored.
* **Moderation.** Rights over a round are decided by the power levels (and v12 creators) of
  the round's own room (:meth:`MatrixAdapter.moderates`), never of the room a command is typed
  in. Private answers go only to a room shared by the bot and that member alone: a DM that
  gained a member is no longer used for them.
* **Forgetting DMs.** When a round's summary (or closing notice) is published, the bot, in the
  background and once per round: ratchets the Megolm sessions of every room where no round is
  posted past the last message it decrypted (so its store can no longer decrypt what it has
  read, while the member's later messages in the same session still decrypt), discards its own
  outbound session there and its stored copies of its own, then redacts every message, encrypted
  event and reaction of its DMs sent between the round's opening and the sweep. It stores no
  link between a member and a round to do so: it sweeps every DM. With several rounds open at
  once, the exchanges of that period about the others go too (their recorded positions stay).
* **Logs.** The adapter's own log lines carry no user id, DM room id, event id, token or member
  text; library error texts are scrubbed before they are logged, and nio's and peewee's loggers
  are held at WARNING (see also :mod:`bot.logs`).
"""

from .adapter import (
    READY_TIMEOUT,
    SYNC_TIMEOUT_MS,
    TIMELINE_LIMIT,
    MatrixAdapter,
    with_cross_signing_reset,
)
from .client import REDACTABLE, _Client, retry_after
from .content import (
    CONTENT_BUDGET,
    MAX_EVENT_BYTES,
    POST_FIELD,
    _strip_reply_fallback,
    message_contents,
    notice_content,
)
from .errors import MatrixError, _safe
from .rooms import MEGOLM, PLATFORM, _Creators, _Invite
from .store import CleanupState, SeenEvents

__all__ = [
    "CONTENT_BUDGET",
    "MAX_EVENT_BYTES",
    "MEGOLM",
    "PLATFORM",
    "POST_FIELD",
    "READY_TIMEOUT",
    "REDACTABLE",
    "SYNC_TIMEOUT_MS",
    "TIMELINE_LIMIT",
    "CleanupState",
    "MatrixAdapter",
    "MatrixError",
    "SeenEvents",
    "_Client",
    "_Creators",
    "_Invite",
    "_safe",
    "_strip_reply_fallback",
    "message_contents",
    "notice_content",
    "retry_after",
    "with_cross_signing_reset",
]
