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

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import secrets
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

import nio
import vodozemac
from nio.crypto import InboundGroupSession
from nio.store.models import MegolmInboundSessions

from bot.commands import VOTE_ANSWERS
from bot.events import (
    Attachment,
    ChannelRef,
    Incoming,
    PostKind,
    Reply,
    RoundPost,
    Visibility,
)
from bot.logs import allow as allow_in_logs
from bot.logs import scrub
from bot.render import markdown_to_html, markdown_to_plain
from bot.text import split_text

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

PLATFORM = "matrix"
MAX_EVENT_BYTES = 65_536
# Bytes of body + formatted_body per event. Encryption turns the content into base64
# (4/3 larger) inside a JSON envelope, so the plain budget stays well under half the limit.
CONTENT_BUDGET = 24_000
SEEN_LIMIT = 10_000
SYNC_TIMEOUT_MS = 30_000
TIMELINE_LIMIT = 50
READY_TIMEOUT = 60.0
ROOM_WAIT = 30.0
DECRYPT_WAIT = 10.0
GAP_PAGES = 20
MEGOLM = "m.megolm.v1.aes-sha2"
# What the DM sweep redacts: members' commands and reactions, the bot's answers (encrypted or not).
REDACTABLE = ("m.room.message", "m.room.encrypted", "m.reaction")
SWEEP_PAGES = 200
# Events this long before a round's opening are swept too: the homeserver's clock and the
# bot's may differ by a little.
SWEEP_MARGIN_MS = 60_000
CLEANUP_RETRY = 60.0
CLEANUP_DONE_LIMIT = 1_000
_REPLY_FALLBACK = re.compile(r"^(?:>[^\n]*\n)+\n", re.DOTALL)
# Where a round's post carries its key (see bot.events.PostKey): round, kind, outbox row.
POST_FIELD = "org.debatebot.post"
# How many of the bot's latest events in a room a retried delivery reads to find its own.
RECENT_EVENTS = 100

T = TypeVar("T")


class MatrixError(RuntimeError):
    """A Matrix request failed (the message names the request, never a user)."""


# ---------------------------------------------------------------------------------- content


def _size(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


def notice_content(plain: str, html: str, msgtype: str = "m.notice") -> dict[str, Any]:
    """One message content: plain and HTML bodies, and no mention of anyone."""
    return {
        "msgtype": msgtype,
        "body": plain,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.mentions": {},
    }


def message_contents(
    text: str, html: str | None = None, budget: int = CONTENT_BUDGET
) -> list[dict[str, Any]]:
    """Contents for ``text`` (light Markdown), split so each event stays under ``budget``.

    ``html`` is used as is when the whole message fits in one event; otherwise each piece is
    rendered from its own Markdown so that no HTML tag is cut in half.
    """
    plain = markdown_to_plain(text)
    whole = notice_content(plain, html if html is not None else markdown_to_html(text))
    if _size(whole) <= budget:
        return [whole]
    limit = max(1, len(text))
    while True:
        limit = max(1, limit // 2)
        pieces = split_text(text, limit)
        contents = [notice_content(markdown_to_plain(p), markdown_to_html(p)) for p in pieces]
        if limit == 1 or all(_size(c) <= budget for c in contents):
            return contents


def _strip_reply_fallback(body: str) -> str:
    """Drop the quoted ``> <@user> …`` block older clients put before a reply."""
    return _REPLY_FALLBACK.sub("", body, count=1)


# ---------------------------------------------------------------------------------- files


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically, readable by the bot's user only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("%s is unreadable; starting without it", path.name)
        return {}
    return data if isinstance(data, dict) else {}


class SeenEvents:
    """Recently acted-on event ids, in memory and in an append-only file.

    The file holds one event id per line and nothing else; it is compacted to the newest
    ``limit`` ids when it grows past twice that.
    """

    def __init__(self, path: Path, limit: int = SEEN_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lines = 0
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line:
                    self._ids[line] = None
                    self._lines += 1
            while len(self._ids) > limit:
                self._ids.popitem(last=False)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> bool:
        """Remember ``event_id`` (on disk before returning); False if it was already seen."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        if self._lines >= 2 * self.limit:
            _write_private(self.path, "".join(f"{e}\n" for e in self._ids))
            self._lines = len(self._ids)
            return True
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(event_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._lines += 1
        return True


class CleanupState:
    """Which closed rounds still owe a DM sweep, and which were swept (``dm_cleanup.json``).

    Round ids and opening times only (both are in the database already): nothing about a
    member. ``pending`` survives a restart, so a sweep interrupted by a stop is resumed;
    ``done`` makes a summary re-sent by the outbox (or re-published after a restart) a no-op.
    """

    def __init__(self, path: Path, done_limit: int = CLEANUP_DONE_LIMIT) -> None:
        self.path = path
        self.done_limit = done_limit
        data = _read_json(path)
        pending = data.get("pending")
        done = data.get("done")
        self.pending: dict[int, int] = {}
        if isinstance(pending, dict):
            for key, value in pending.items():
                with contextlib.suppress(TypeError, ValueError):
                    self.pending[int(key)] = int(value)
        self.done: list[int] = []
        if isinstance(done, list):
            self.done = [int(d) for d in done if isinstance(d, int)]

    def schedule(self, round_id: int, since_ms: int) -> bool:
        """Owe a sweep for ``round_id`` back to ``since_ms``; False if it is owed or done."""
        if round_id in self.pending or round_id in self.done:
            return False
        self.pending[round_id] = since_ms
        self._save()
        return True

    def finish(self, round_ids: Iterable[int]) -> None:
        for round_id in round_ids:
            if self.pending.pop(round_id, None) is not None and round_id not in self.done:
                self.done.append(round_id)
        del self.done[: max(0, len(self.done) - self.done_limit)]
        self._save()

    def _save(self) -> None:
        pending = {str(k): v for k, v in self.pending.items()}
        _write_private(self.path, json.dumps({"pending": pending, "done": self.done}))


def _load_read_indexes(path: Path) -> dict[str, int]:
    return {str(k): int(v) for k, v in _read_json(path).items() if isinstance(v, int)}


# ---------------------------------------------------------------------------------- log text

_QUERY_TOKEN = re.compile(r"access_token=[^&\s'\"]+")


def _safe(text: object) -> str:
    """``text`` fit for a log line: identifiers scrubbed, no access token.

    Error texts from the homeserver or aiohttp may name users, rooms or events ("User @… not in
    room !…") or carry a URL with its ``access_token`` query: both are removed here, so the
    adapter's own lines stay clean whatever handler the process installed.
    """
    return scrub(_QUERY_TOKEN.sub("access_token=<token>", str(text)))


def _error(response: Any) -> str:
    """A nio error response as log text: its code and its (scrubbed) message."""
    code = getattr(response, "status_code", None) or type(response).__name__
    message = getattr(response, "message", None)
    return _safe(f"{code}: {message}" if message else code)


def _trace(exc: BaseException) -> str:
    """A scrubbed traceback: exception messages can carry room or user ids."""
    return _safe("".join(traceback.format_exception(exc)).rstrip())


# ---------------------------------------------------------------------------------- client


class _Client(nio.AsyncClient):  # type: ignore[misc]
    """nio's client with a bounded answer to rate limiting.

    nio sleeps and retries a 429 forever. Here nio is configured to give up at once
    (``max_limit_exceeded=0``) and this ``send`` retries instead, as long as the total wait
    for one request stays within ``max_rate_limit_wait``. Streaming bodies (uploads) are not
    replayable here; the adapter retries those whole.
    """

    max_rate_limit_wait: float = 60.0
    closed: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Megolm session id -> highest message index this device decrypted in it: where the
        # ratchet goes when a round closes (see MatrixAdapter._ratchet_sessions). Session ids
        # and counts only, nothing about users, rooms or rounds.
        self.read_indexes: dict[str, int] = {}
        self.read_indexes_changed = False

    def load_store(self) -> None:
        super().load_store()
        olm = self.olm
        if olm is None or getattr(olm, "_reads_tracked", False):
            return
        # nio decrypts in several places (sync responses, /messages, decrypt_event), all
        # through this one method, and none of them says which message index it used: the
        # index is read from the ciphertext's header once decryption has succeeded.
        decrypt = olm.decrypt_megolm_event

        def tracked(event: Any, room_id: str | None = None) -> Any:
            decrypted = decrypt(event, room_id)
            self._note_read(event)
            return decrypted

        olm.decrypt_megolm_event = tracked
        olm._reads_tracked = True

    def _note_read(self, event: Any) -> None:
        try:
            index = vodozemac.MegolmMessage.from_base64(event.ciphertext).message_index()
        except Exception:
            return
        session_id = str(event.session_id)
        if index > self.read_indexes.get(session_id, -1):
            self.read_indexes[session_id] = index
            self.read_indexes_changed = True

    async def close(self) -> None:
        # nio opens a new HTTP session for any request made after close(); refuse instead.
        self.closed = True
        await super().close()

    async def send(
        self,
        method: str,
        path: str,
        data: Any = None,
        headers: dict[str, str] | None = None,
        trace_context: Any = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        if self.closed:
            raise MatrixError("the Matrix client is closed")
        waited = 0.0
        while True:
            response = await super().send(method, path, data, headers, trace_context, timeout)
            if response.status != 429 or not isinstance(data, str | bytes | None):
                return response
            delay = await retry_after(response)
            if waited + delay > self.max_rate_limit_wait:
                log.warning("rate limited for longer than %.0fs; giving up", waited + delay)
                return response
            log.info("rate limited; retrying in %.1fs", delay)
            response.release()
            await asyncio.sleep(delay)
            waited += delay


async def retry_after(response: Any) -> float:
    """Seconds a 429 response asks to wait (``retry_after_ms``, else ``Retry-After``)."""
    try:
        body = await response.json(content_type=None)
    except Exception:
        body = {}
    if isinstance(body, dict) and isinstance(body.get("retry_after_ms"), int | float):
        return max(0.0, float(body["retry_after_ms"]) / 1000)
    header = response.headers.get("Retry-After") if response.headers is not None else None
    if header is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(header))
    return 1.0


# ---------------------------------------------------------------------------------- adapter


@dataclass
class _Invite:
    room_id: str
    inviter: str | None
    is_direct: bool
    alias: str | None


@dataclass
class _Batch:
    """What one sync asks the worker to do, and the token to save once it is done."""

    token: str
    invites: list[_Invite] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)
    first: bool = False


@dataclass
class _Creators:
    room_version: str
    users: frozenset[str]

    @property
    def privileged(self) -> bool:
        """Room version 12 and later give creators unlimited power (MSC4289)."""
        version = self.room_version
        return not (version.isdigit() and int(version) < 12)


class MatrixAdapter:
    """The :class:`~bot.ports.ChatPort` for Matrix, over ``nio.AsyncClient`` with encryption."""

    platform = PLATFORM

    def __init__(self, app: App) -> None:
        self.app = app
        self.config = app.config.platforms.matrix
        self.engine = app.engine
        self.commands = app.commands
        self.store_dir = app.config.data_dir / "matrix"
        self.timeline_limit = TIMELINE_LIMIT
        self.sync_timeout_ms = SYNC_TIMEOUT_MS
        self.reconnect_min_delay = 0.5
        self.reconnect_max_delay = 30.0
        self.client: _Client | None = None
        self._queue: asyncio.Queue[_Batch] = asyncio.Queue()
        self._synced = asyncio.Condition()
        self._ready = asyncio.Event()
        self._sync_task: asyncio.Task[None] | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._closing = False
        self._seen: SeenEvents | None = None
        self._direct: dict[str, str] = {}
        self._direct_invites: set[str] = set()
        self._aliases: dict[str, str] = {}
        self._creators: dict[str, _Creators] = {}
        self._last_bot_event: dict[str, str] = {}
        self._announcements: dict[tuple[str, int], str] = {}
        self._published: set[tuple[str, int, str, int]] = set()
        self._dm_lock = asyncio.Lock()
        self._password: str | None = None
        # One lock per room around each send: nio shares and uses a room's outbound Megolm
        # session across an await, and a round's close discards that session.
        self._send_locks: dict[str, asyncio.Lock] = {}
        self._cleanup: CleanupState | None = None
        self._cleanup_task: asyncio.Task[None] | None = None
        self._cleanup_wake = asyncio.Event()
        self._cleanup_idle = asyncio.Event()
        self.cleanup_retry = CLEANUP_RETRY

    # ------------------------------------------------------------------ files

    @property
    def _token_path(self) -> Path:
        return self.store_dir / "sync_token"

    @property
    def _session_path(self) -> Path:
        return self.store_dir / "session.json"

    @property
    def _direct_path(self) -> Path:
        return self.store_dir / "direct_rooms.json"

    @property
    def _read_index_path(self) -> Path:
        return self.store_dir / "megolm_read_index.json"

    @property
    def _cleanup_path(self) -> Path:
        return self.store_dir / "dm_cleanup.json"

    def _save_read_indexes(self) -> None:
        client = self.client
        if client is None or not client.read_indexes_changed:
            return
        client.read_indexes_changed = False
        _write_private(self._read_index_path, json.dumps(client.read_indexes, sort_keys=True))

    def _load_token(self) -> str | None:
        try:
            token = self._token_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return token or None

    def _save_token(self, token: str) -> None:
        _write_private(self._token_path, token + "\n")

    def _save_direct(self) -> None:
        _write_private(self._direct_path, json.dumps(self._direct, indent=1, sort_keys=True))

    def _pickle_key(self) -> str:
        path = self.store_dir / "pickle_key"
        if not path.exists():
            _write_private(path, secrets.token_urlsafe(32))
        return path.read_text(encoding="utf-8").strip()

    # ------------------------------------------------------------------ start / stop

    async def start(self) -> None:
        """Log in, then sync in the background; returns once the first sync is handled."""
        # nio logs each member's account and DM room at INFO, and whole responses (a DM's text
        # next to its sender and event id) at DEBUG; peewee logs the crypto store's queries
        # with their parameters. bot.logs filters them too; this holds even where the process
        # installed no such handler (tests, embedding).
        for name in ("nio", "peewee"):
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() < logging.WARNING:
                logger.setLevel(logging.WARNING)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.store_dir, 0o700)
        self._seen = SeenEvents(self.store_dir / "seen_events")
        self._cleanup = CleanupState(self._cleanup_path)
        self._direct = {
            str(k): str(v) for k, v in _read_json(self._direct_path).items() if isinstance(v, str)
        }
        self.client = _Client(
            self.config.homeserver,
            self.config.user_id,
            store_path=str(self.store_dir),
            config=nio.AsyncClientConfig(
                max_limit_exceeded=0,
                max_timeouts=2,
                max_timeout_retry_wait_time=2,
                request_timeout=60,
                encryption_enabled=True,
                store_sync_tokens=False,
                pickle_key=self._pickle_key(),
            ),
        )
        self.client.max_rate_limit_wait = self.config.max_rate_limit_wait
        self.client.read_indexes = _load_read_indexes(self._read_index_path)
        await self._login()
        if self.client.should_upload_keys:
            await self._check(self.client.keys_upload(), "keys upload")
        await self._resolve_configured_aliases()
        self._closing = False
        self._worker_task = asyncio.create_task(self._work(), name="matrix-worker")
        self._sync_task = asyncio.create_task(self._sync_loop(), name="matrix-sync")
        self._cleanup_idle.clear()
        self._cleanup_wake.set()  # a sweep left pending by the last run resumes
        self._cleanup_task = asyncio.create_task(self._cleanup_loop(), name="matrix-dm-cleanup")
        try:
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            log.warning("the first Matrix sync is not done yet; carrying on in the background")
            return
        await self._join_configured_rooms()

    async def stop(self) -> None:
        self._closing = True
        if self._cleanup_task is not None:
            # An interrupted sweep stays pending in dm_cleanup.json and resumes at next start.
            self._cleanup_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleanup_task
            self._cleanup_task = None
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
            self._sync_task = None
        if self._worker_task is not None:
            # Let the event in hand finish; what is still queued is replayed at the next start.
            self._queue.put_nowait(_Batch(token=""))
            try:
                await asyncio.wait_for(asyncio.shield(self._worker_task), 5)
            except (TimeoutError, asyncio.CancelledError):
                self._worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._worker_task
            self._worker_task = None
        if self.client is not None:
            self._save_read_indexes()
            await self.client.close()
        self._ready.clear()

    # ------------------------------------------------------------------ login

    async def _login(self) -> None:
        client = self._require_client()
        token = os.environ.get(self.config.access_token_env or "") or None
        password = os.environ.get(self.config.password_env or "") or None
        self._password = password
        if token is not None:
            client.access_token = token
            who = await client.whoami()
            if not isinstance(who, nio.WhoamiResponse) or not who.device_id:
                raise MatrixError(f"the access token was refused: {_error(who)}")
            if who.user_id != self.config.user_id:
                raise MatrixError(
                    f"the access token belongs to {who.user_id}, not {self.config.user_id}"
                )
            client.restore_login(who.user_id, who.device_id, token)
            return
        if password is None:
            raise MatrixError(
                f"set {self.config.access_token_env or 'an access token'} or "
                f"{self.config.password_env or 'a password'} in the environment"
            )
        session = _read_json(self._session_path)
        if session.get("user_id") == self.config.user_id and session.get("device_id"):
            client.restore_login(
                self.config.user_id, str(session["device_id"]), str(session["access_token"])
            )
            who = await client.whoami()
            if isinstance(who, nio.WhoamiResponse):
                return
            log.info("the stored Matrix session is no longer valid; logging in again")
        await self._password_login()

    async def _password_login(self) -> None:
        client = self._require_client()
        assert self._password is not None
        # With a device id set (restored session), the homeserver keeps that same device.
        response = await client.login(self._password, device_name=self.config.device_name)
        if not isinstance(response, nio.LoginResponse):
            raise MatrixError(f"password login failed: {_error(response)}")
        _write_private(
            self._session_path,
            json.dumps(
                {
                    "user_id": response.user_id,
                    "device_id": response.device_id,
                    "access_token": response.access_token,
                }
            ),
        )

    def _require_client(self) -> _Client:
        if self.client is None:
            raise MatrixError("the Matrix adapter is not started")
        return self.client

    @property
    def user_id(self) -> str:
        return str(self._require_client().user_id)

    # ------------------------------------------------------------------ sync

    def _sync_filter(self) -> dict[str, Any]:
        return {
            "presence": {"not_types": ["*"]},
            "room": {
                "timeline": {"limit": self.timeline_limit},
                "state": {"lazy_load_members": False},
                "ephemeral": {"not_types": ["*"]},
            },
        }

    async def _sync_loop(self) -> None:
        client = self._require_client()
        # Each sync starts from the last one whose events were queued: a sync whose events
        # could not be collected (the homeserver went away mid-way) is simply asked again.
        previous = self._load_token()
        fresh = previous is None
        first = True
        delay = self.reconnect_min_delay
        while True:
            try:
                response = await client.sync(
                    timeout=0 if first else self.sync_timeout_ms,
                    sync_filter=self._sync_filter(),
                    since=previous,
                    full_state=True if first and previous else None,
                )
                if isinstance(response, nio.SyncResponse):
                    batch = await self._collect(response, history=first and fresh, since=previous)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Matrix sync failed (%s); retrying in %.1fs", _safe(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_delay)
                continue
            if not isinstance(response, nio.SyncResponse):
                log.warning("Matrix sync refused (%s); retrying in %.1fs", _error(response), delay)
                if getattr(response, "status_code", None) == "M_UNKNOWN_TOKEN" and self._password:
                    with contextlib.suppress(Exception):
                        await self._password_login()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_delay)
                continue
            delay = self.reconnect_min_delay
            batch.first = first
            previous = response.next_batch
            first = False
            self._queue.put_nowait(batch)
            async with self._synced:
                self._synced.notify_all()
            await self._crypto_upkeep()

    async def _crypto_upkeep(self) -> None:
        """What nio's ``sync_forever`` does between syncs: to-device messages and keys."""
        client = self._require_client()
        try:
            if client.outgoing_to_device_messages:
                await client.send_to_device_messages()
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
        except (nio.LocalProtocolError, OSError, TimeoutError) as exc:
            log.debug("key upkeep deferred: %s", _safe(exc))
        except Exception as exc:  # aiohttp errors during a homeserver restart
            log.info("key upkeep failed, next sync retries: %s", _safe(exc))

    async def _collect(self, response: Any, *, history: bool, since: str | None) -> _Batch:
        """Sort one sync into invites and the events the worker may act on."""
        batch = _Batch(token=response.next_batch)
        for room_id, info in response.rooms.invite.items():
            batch.invites.append(self._invite_from(room_id, info.invite_state))
        for room_id, info in response.rooms.join.items():
            for event in info.state:
                self._note_state(room_id, event)
            timeline = list(info.timeline.events)
            for event in timeline:
                self._note_state(room_id, event)
            if history:
                continue
            if info.timeline.limited and info.timeline.prev_batch:
                timeline = await self._missed(room_id, info.timeline.prev_batch, since, timeline)
            start = self._actionable_start(room_id, timeline)
            log.debug(
                "%d new events in a room (limited: %s), acting from #%d",
                len(timeline),
                info.timeline.limited,
                start,
            )
            batch.events.extend((room_id, event) for event in timeline[start:])
        return batch

    def _invite_from(self, room_id: str, state: Iterable[Any]) -> _Invite:
        invite = _Invite(room_id=room_id, inviter=None, is_direct=False, alias=None)
        for event in state:
            if isinstance(event, nio.InviteMemberEvent) and event.state_key == self.user_id:
                invite.inviter = event.sender
                invite.is_direct = bool(event.content.get("is_direct"))
            elif isinstance(event, nio.InviteAliasEvent):
                invite.alias = event.canonical_alias
        return invite

    def _note_state(self, room_id: str, event: Any) -> None:
        if isinstance(event, nio.RoomCreateEvent):
            content = event.source.get("content", {})
            users = {event.sender}
            if isinstance(content.get("creator"), str):
                users.add(content["creator"])
            extra = content.get("additional_creators")
            if isinstance(extra, list):
                users.update(u for u in extra if isinstance(u, str))
            self._creators[room_id] = _Creators(
                str(content.get("room_version", "1")), frozenset(users)
            )

    def _is_own_member(self, event: Any, *memberships: str) -> bool:
        return bool(
            isinstance(event, nio.RoomMemberEvent)
            and event.state_key == self.user_id
            and event.membership in memberships
            and not (event.membership == "join" and event.prev_membership == "join")
        )

    def _actionable_start(self, room_id: str, timeline: list[Any]) -> int:
        """Index of the first event to act on.

        Events before the bot joined are history; in a DM the bot was invited to, what the
        member wrote after the invite counts.
        """
        joined_at = invited_at = None
        for index, event in enumerate(timeline):
            if self._is_own_member(event, "join"):
                joined_at = index
            elif self._is_own_member(event, "invite"):
                invited_at = index
        if joined_at is None:
            return 0
        if invited_at is not None and invited_at < joined_at and room_id in self._direct_invites:
            return invited_at + 1
        return joined_at + 1

    async def _missed(
        self, room_id: str, prev_batch: str, since: str | None, timeline: list[Any]
    ) -> list[Any]:
        """``timeline`` completed with the events a limited sync left out, oldest first."""
        if any(self._is_own_member(e, "join") for e in timeline):
            # Just joined: only a DM's messages between the invite and the join are missing.
            direct = room_id in self._direct_invites
            if not direct or any(self._is_own_member(e, "invite") for e in timeline):
                return timeline
            return await self._fill_gap(room_id, prev_batch, None, "invite") + timeline
        return await self._fill_gap(room_id, prev_batch, since, "join") + timeline

    async def _fill_gap(
        self, room_id: str, prev_batch: str, since: str | None, arrival: str
    ) -> list[Any]:
        """Older events, fetched backwards with ``/messages``, oldest first.

        Down to the previous sync token, or to the bot's own ``arrival`` (its invite or join),
        which is kept so that :meth:`_actionable_start` sees it. Without a token, nothing is
        returned unless the arrival is found: nothing else tells what is new.
        """
        client = self._require_client()
        events: list[Any] = []
        start = prev_batch
        for _page in range(GAP_PAGES):
            response = await client.room_messages(
                room_id, start=start, end=since, direction=nio.MessageDirection.back, limit=100
            )
            if not isinstance(response, nio.RoomMessagesResponse):
                log.warning("could not fetch the missed events of a room: %s", _error(response))
                break
            for event in response.chunk:
                events.append(event)
                if self._is_own_member(event, arrival):
                    events.reverse()
                    return events
            if not response.chunk or not response.end or response.end == start:
                break
            start = response.end
        if since is None:
            return []
        events.reverse()
        return events

    async def _wait_synced(self, ready: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with self._synced:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._synced.wait(), remaining)
        return True

    async def _next_sync(self, timeout: float) -> None:  # noqa: ASYNC109
        async with self._synced:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._synced.wait(), max(0.0, timeout))

    # ------------------------------------------------------------------ worker

    async def _work(self) -> None:
        """Hand each sync's events to one task per sender, and save tokens as batches finish.

        A member's events are handled in order (each sender's task waits for that sender's
        previous one), members are handled in parallel, and the worker goes on to the next
        sync at once: a member waiting on a stuck database holds up nobody else. A sync
        token is saved only once its batch and every earlier one are fully handled, so a
        restart replays whatever was not.
        """
        handling: deque[tuple[_Batch, list[asyncio.Task[bool]]]] = deque()
        chains: dict[str, asyncio.Task[bool]] = {}
        try:
            while True:
                batch = await self._queue.get()
                if self._closing:
                    break
                for invite in batch.invites:
                    if self._closing:
                        break
                    try:
                        await self._handle_invite(invite)
                    except Exception as exc:
                        log.error("could not handle an invite\n%s", _trace(exc))
                if self._closing:
                    break
                by_sender: dict[str, list[tuple[str, Any]]] = {}
                for room_id, event in batch.events:
                    sender = str(getattr(event, "sender", ""))
                    by_sender.setdefault(sender, []).append((room_id, event))
                tasks: list[asyncio.Task[bool]] = []
                for sender, events in by_sender.items():
                    task = asyncio.create_task(self._handle_in_order(events, chains.get(sender)))
                    chains[sender] = task
                    task.add_done_callback(partial(_forget_chain, chains, sender))
                    tasks.append(task)
                handling.append((batch, tasks))
                for task in tasks:
                    task.add_done_callback(lambda _: self._settle(handling))
                self._settle(handling)
            # Stopping: let the events in hand finish (stop() bounds the wait).
            if chains:
                await asyncio.wait(set(chains.values()))
        finally:
            for task in list(chains.values()):
                task.cancel()

    def _settle(self, handling: deque[tuple[_Batch, list[asyncio.Task[bool]]]]) -> None:
        """Save the token of every batch fully handled, oldest first."""
        while handling and all(t.done() for t in handling[0][1]):
            batch, tasks = handling.popleft()
            if not all(not t.cancelled() and t.exception() is None and t.result() for t in tasks):
                handling.clear()  # stopped part-way: replayed from the last saved token
                return
            # Before the token: a restart replays from the token, and what was decrypted up to
            # it must be known to the ratchet.
            self._save_read_indexes()
            if batch.token:
                self._save_token(batch.token)
            if batch.first:
                self._ready.set()

    async def _handle_in_order(
        self, events: list[tuple[str, Any]], previous: asyncio.Task[bool] | None
    ) -> bool:
        """Handle one sender's events of a batch after their earlier ones; False if stopped."""
        if previous is not None:
            await asyncio.wait({previous})
        for room_id, event in events:
            if self._closing:
                return False
            try:
                await self._handle_event(room_id, event)
            except Exception as exc:
                log.error("could not handle an event\n%s", _trace(exc))
        return True

    # ------------------------------------------------------------------ invites

    async def _handle_invite(self, invite: _Invite) -> None:
        client = self._require_client()
        if invite.room_id in client.rooms:
            return
        if invite.is_direct or await self._invite_allowed(invite):
            response = await client.join(invite.room_id)
            if not isinstance(response, nio.JoinResponse):
                raise MatrixError(f"joining a room failed: {_error(response)}")
            if invite.is_direct and invite.inviter:
                self._direct_invites.add(invite.room_id)
                self._direct[invite.inviter] = invite.room_id
                self._save_direct()
                log.info("joined a direct message")
            else:
                log.info("joined room %s", invite.alias or "(no alias)")
        else:
            await client.room_leave(invite.room_id)
            # A room id is an identifier (and bot.logs scrubs it): the alias, when the invite
            # carries one, is what an organiser adds to allowed_rooms.
            alias = invite.alias or "(no alias)"
            log.info("declined an invite to room %s (not in allowed_rooms)", alias)

    def _configured_keys(self) -> set[str]:
        keys = {
            channel.key
            for debate in self.app.config.debates
            for channel in debate.channels
            if channel.platform == PLATFORM
        }
        for r in self.engine.open_rounds():
            keys.update(c.channel for c in r.channels if c.platform == PLATFORM)
        return keys

    async def _invite_allowed(self, invite: _Invite) -> bool:
        for entry in [*self.config.allowed_rooms, *self._configured_keys()]:
            if entry.startswith("!") and entry == invite.room_id:
                return True
            if entry.startswith("#") and (
                entry == invite.alias or await self._resolve(entry) == invite.room_id
            ):
                return True
            if entry.startswith(":"):
                names = (invite.room_id, invite.alias or "", invite.inviter or "")
                if any(name.endswith(entry) for name in names):
                    return True
        return False

    # ------------------------------------------------------------------ rooms and aliases

    async def _resolve(self, key: str) -> str | None:
        """Room id for a configured key (a room id, or an alias resolved once)."""
        if not key.startswith("#"):
            return key
        if key in self._aliases:
            return self._aliases[key]
        response = await self._require_client().room_resolve_alias(key)
        if not isinstance(response, nio.RoomResolveAliasResponse):
            log.warning("room alias %s does not resolve: %s", key, _error(response))
            return None
        self._aliases[key] = response.room_id
        return str(response.room_id)

    async def _resolve_configured_aliases(self) -> None:
        for key in self._configured_keys():
            # The rooms rounds are posted in are public places the organiser named: keeping
            # them readable in the logs tells nothing about any member (bot.logs.allow).
            allow_in_logs(key)
            if key.startswith("#"):
                with contextlib.suppress(Exception):
                    room_id = await self._resolve(key)
                    if room_id is not None:
                        allow_in_logs(room_id)

    async def _join_configured_rooms(self) -> None:
        client = self._require_client()
        for key in sorted(self._configured_keys()):
            room_id = await self._resolve(key)
            if room_id is not None and room_id not in client.rooms:
                response = await client.join(key)
                if not isinstance(response, nio.JoinResponse):
                    log.info("not in room %s yet (invite the bot): %s", key, _error(response))

    async def _round_channels(self) -> dict[str, ChannelRef]:
        """Room id -> the channel reference rounds use for it (an id or an alias)."""
        mapping: dict[str, ChannelRef] = {}
        for key in sorted(self._configured_keys()):
            room_id = await self._resolve(key)
            if room_id is not None:
                mapping.setdefault(room_id, ChannelRef(PLATFORM, key))
        for r in self.engine.open_rounds():
            for channel in r.channels:
                if channel.platform == PLATFORM:
                    room_id = await self._resolve(channel.channel)
                    if room_id is not None:
                        mapping[room_id] = channel
        return mapping

    async def _room_id_for(self, channel: ChannelRef) -> str:
        room_id = await self._resolve(channel.channel)
        if room_id is None:
            raise MatrixError(f"room {channel.channel} not found")
        client = self._require_client()
        if room_id not in client.rooms:
            response = await client.join(channel.channel)
            if not isinstance(response, nio.JoinResponse):
                raise MatrixError(f"the bot is not in room {channel.channel}: {_error(response)}")
            if not await self._wait_synced(lambda: room_id in client.rooms, ROOM_WAIT):
                raise MatrixError(f"room {channel.channel} did not show up in the sync")
        return room_id

    async def _creators_of(self, room_id: str) -> _Creators:
        known = self._creators.get(room_id)
        if known is not None:
            return known
        response = await self._require_client().room_get_state(room_id)
        if isinstance(response, nio.RoomGetStateResponse):
            for raw in response.events:
                if raw.get("type") == "m.room.create":
                    self._note_state(room_id, nio.RoomCreateEvent.from_dict(raw))
        return self._creators.get(room_id, _Creators("1", frozenset()))

    async def moderates(self, user_id: str, channel: ChannelRef) -> bool:
        """Whether ``user_id`` moderates the round room ``channel`` (ModeratorCheck).

        Decided by the power levels of that room itself, wherever the command was typed:
        being an admin of some other room (one the sender created and invited the bot to, a
        DM that gained a member) gives no rights over a round posted elsewhere.
        """
        if channel.platform != PLATFORM or self.client is None:
            return False
        room_id = await self._resolve(channel.channel)
        room = self.client.rooms.get(room_id) if room_id is not None else None
        if room is None:
            return False
        return await self.is_moderator(room, user_id)

    async def is_moderator(self, room: Any, user_id: str) -> bool:
        """Power level >= ``moderator_power_level`` in ``room``, or a creator of a v12+ room."""
        if room.power_levels.get_user_level(user_id) >= self.config.moderator_power_level:
            return True
        creators = await self._creators_of(room.room_id)
        return creators.privileged and user_id in creators.users

    def _is_direct_room(self, room: Any, user_id: str, round_rooms: Iterable[str]) -> bool:
        """A DM: a room shared by the bot and this member only, where no round is posted.

        Membership decides, not the ``is_direct`` flag of an invite: a member's answers
        must never land in a room where someone else can read them.
        """
        if room.room_id in round_rooms:
            return False
        return set(room.users) - {self.user_id} == {user_id}

    # ------------------------------------------------------------------ events

    async def _handle_event(self, room_id: str, event: Any) -> None:
        client = self._require_client()
        assert self._seen is not None
        if str(getattr(event, "event_id", "")) in self._seen:
            return  # a replay: this event was acted on before a restart
        if getattr(event, "sender", None) == self.user_id:
            # The bot's own messages are never acted on; the keys of its old sessions are
            # dropped when a round closes, so waiting for them would only stall the worker.
            return
        if isinstance(event, nio.MegolmEvent):
            event = await self._decrypt(event)
            if event is None:
                return
        if not isinstance(event, nio.RoomMessageText | nio.ReactionEvent):
            return
        if event.sender == self.user_id:
            return
        room = client.rooms.get(room_id)
        if room is None:
            return
        content = event.source.get("content", {})
        relation = content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace":
            return  # an edit: the original was handled (or refused) already
        channels = await self._round_channels()
        direct = self._is_direct_room(room, event.sender, channels)
        if isinstance(event, nio.ReactionEvent):
            if not direct or event.key not in VOTE_ANSWERS:
                return
            if not self.app.commands.awaiting_vote(self.platform, event.sender):
                return  # a reaction with no vote waiting for it is not addressed to the bot
            if self._last_bot_event.get(room_id) != event.reacts_to:
                return
            text = event.key
        else:
            text = _strip_reply_fallback(event.body or "").strip()
            if not direct and not text.startswith("!"):
                return  # ordinary conversation in a room is none of the bot's business
        if not self._seen.add(event.event_id):
            return
        if direct:
            if self._direct.get(event.sender) != room_id:
                self._direct[event.sender] = room_id
                self._save_direct()
            shared = tuple(
                ref
                for rid, ref in channels.items()
                if rid != room_id
                and rid in client.rooms
                and event.sender in client.rooms[rid].users
                and not client.rooms[rid].users[event.sender].invited
            )
            msg = Incoming(PLATFORM, event.sender, text, channel=None, shared_channels=shared)
        else:
            channel = channels.get(room_id, ChannelRef(PLATFORM, room_id))
            msg = Incoming(
                PLATFORM, event.sender, text, channel=channel, shared_channels=(channel,)
            )
        replies = await self.commands.handle(msg)
        for reply in replies:
            await self._deliver(msg, room, direct, reply)

    async def _decrypt(self, event: Any) -> Any | None:
        """Decrypt a Megolm event, waiting a little for its key to arrive."""
        client = self._require_client()
        requested = False
        if self._ratcheted_past(event):
            # Its message key was deliberately forgotten when a round closed (the bot read it
            # before): no key will arrive, and asking the member's devices for it is pointless.
            log.debug("an event from before a ratchet point was skipped")
            return None

        def attempt() -> Any | None:
            try:
                return client.decrypt_event(event)
            except Exception:
                return None

        decrypted = attempt()
        deadline = time.monotonic() + DECRYPT_WAIT
        while decrypted is None and time.monotonic() < deadline:
            if not requested:
                requested = True
                with contextlib.suppress(Exception):
                    await client.request_room_key(event)
            await self._next_sync(min(1.0, deadline - time.monotonic()))
            decrypted = attempt()
        if decrypted is None:
            log.warning("an event could not be decrypted")
        return decrypted

    def _ratcheted_past(self, event: Any) -> bool:
        """Whether ``event`` uses a message index its session no longer holds."""
        olm = self._require_client().olm
        if olm is None or not event.session_id or not event.sender_key:
            return False
        session = olm.inbound_group_store.get(event.room_id, event.sender_key, event.session_id)
        if session is None:
            return False
        try:
            index = vodozemac.MegolmMessage.from_base64(event.ciphertext).message_index()
        except Exception:
            return False
        return bool(index < session.first_known_index)

    async def _deliver(self, msg: Incoming, room: Any, direct: bool, reply: Reply) -> None:
        # Exports are files a moderator asked for: in a public room they go to the DM.
        in_room = reply.visibility == Visibility.CHANNEL and not (
            reply.attachments and room.join_rule == "public"
        )
        if direct or in_room:
            target = room.room_id
        else:
            target = await self.direct_room(msg.user_id)
        event_ids = await self._send_text(target, reply.text, reply.html)
        for attachment in reply.attachments:
            event_ids.append(await self._send_file(target, attachment))
        if event_ids and (direct or target != room.room_id):
            # The one bot message in this DM whose reactions count as vote answers.
            self._last_bot_event[target] = event_ids[-1]

    async def direct_room(self, user_id: str) -> str:
        """The member's DM with the bot: the known one, an existing one, or a new one."""
        client = self._require_client()
        async with self._dm_lock:
            round_rooms = set(await self._round_channels())

            def private(room_id: str) -> bool:
                # Only a room shared by the bot and this member alone: a DM that gained a
                # member (even one merely invited) would show private answers to them.
                room = client.rooms.get(room_id)
                return bool(
                    room is not None
                    and room_id not in round_rooms
                    and set(room.users) == {self.user_id, user_id}
                )

            known = self._direct.get(user_id)
            if known and private(known):
                return known
            for room_id in list(client.rooms):
                if private(room_id):
                    self._direct[user_id] = room_id
                    self._save_direct()
                    return str(room_id)
            response = await client.room_create(
                is_direct=True,
                invite=[user_id],
                preset=nio.RoomPreset.trusted_private_chat,
                initial_state=[
                    {
                        "type": "m.room.encryption",
                        "state_key": "",
                        "content": {"algorithm": MEGOLM},
                    }
                ],
            )
            if not isinstance(response, nio.RoomCreateResponse):
                raise MatrixError(f"could not open a direct message: {_error(response)}")
            room_id = str(response.room_id)
            self._direct[user_id] = room_id
            self._save_direct()

            # A long-polling sync can return the new room half-built (before the invite or
            # the encryption event): sending then would share the keys with nobody.
            def ready() -> bool:
                room = client.rooms.get(room_id)
                return bool(room is not None and room.encrypted and user_id in room.users)

            if not await self._wait_synced(ready, ROOM_WAIT):
                raise MatrixError("a new direct message did not show up in the sync")
            return room_id

    # ------------------------------------------------------------------ sending

    async def _check(self, call: Awaitable[T], what: str) -> T:
        response = await call
        if isinstance(response, nio.ErrorResponse):
            raise MatrixError(f"{what} failed: {_error(response)}")
        return response

    def _send_lock(self, room_id: str) -> asyncio.Lock:
        return self._send_locks.setdefault(room_id, asyncio.Lock())

    async def _room_send(
        self, room_id: str, content: dict[str, Any], txn_id: str | None = None
    ) -> str:
        """Send one event; with ``txn_id``, the homeserver sends it once whatever the retries
        (it answers a repeated transaction id of this device with the first event's id)."""
        client = self._require_client()
        async with self._send_lock(room_id):
            # Unverified devices get the keys too: see the module docstring and docs/matrix.md.
            response = await self._check(
                client.room_send(
                    room_id,
                    "m.room.message",
                    content,
                    tx_id=txn_id,
                    ignore_unverified_devices=True,
                ),
                "sending a message",
            )
        return str(response.event_id)

    async def _send_text(self, room_id: str, text: str, html: str | None = None) -> list[str]:
        return [await self._room_send(room_id, c) for c in message_contents(text, html)]

    async def _send_file(
        self,
        room_id: str,
        attachment: Attachment,
        txn_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        client = self._require_client()
        room = client.rooms.get(room_id)
        encrypt = bool(room is not None and room.encrypted)
        waited = 0.0
        while True:
            response, keys = await client.upload(
                io.BytesIO(attachment.data),
                content_type=attachment.mime,
                filename=attachment.filename,
                encrypt=encrypt,
                filesize=len(attachment.data),
            )
            if isinstance(response, nio.UploadResponse):
                break
            if getattr(response, "status_code", None) != "M_LIMIT_EXCEEDED":
                raise MatrixError(f"uploading {attachment.filename} failed: {_error(response)}")
            delay = (getattr(response, "retry_after_ms", None) or 1000) / 1000
            if waited + delay > self.config.max_rate_limit_wait:
                raise MatrixError(f"uploading {attachment.filename}: rate limited too long")
            await asyncio.sleep(delay)
            waited += delay
        image = attachment.mime.startswith("image/")
        content: dict[str, Any] = {
            "msgtype": "m.image" if image else "m.file",
            "body": attachment.filename,
            "filename": attachment.filename,
            "info": {"mimetype": attachment.mime, "size": len(attachment.data)},
            "m.mentions": {},
        }
        if image:
            content["info"].update(_png_size(attachment.data))
        if keys is not None:
            content["file"] = {**keys, "url": response.content_uri}
        else:
            content["url"] = response.content_uri
        content.update(extra or {})
        return await self._room_send(room_id, content, txn_id)

    # ------------------------------------------------------------------ ChatPort

    async def publish(self, channel: ChannelRef, post: RoundPost) -> None:
        log.debug("posting %s of round %s to %s", post.kind, post.round_id, channel)
        if post.kind in (PostKind.SUMMARY, PostKind.CLOSED):
            # Before sending: the DMs are cleared even if this room cannot be reached.
            self._schedule_cleanup(post)
        room_id = await self._room_id_for(channel)
        if post.kind == PostKind.PROGRESS:
            await self._edit_announcement(room_id, post)
            return
        parts: list[tuple[str, dict[str, Any] | Attachment]] = [
            ("text", c) for c in message_contents(post.text, post.html)
        ]
        parts.extend(("file", a) for a in post.attachments)
        key = post.key
        # A retried delivery may follow a crash after some parts reached the room: those are
        # found among the bot's latest events and not sent again.
        earlier = await self._posted_before(room_id, post, len(parts)) if key and key.retry else {}
        sent: dict[int, str] = dict(earlier)
        for index, (kind, part) in enumerate(parts):
            mark = (room_id, post.round_id, post.kind.value, index)
            if mark in self._published or index in earlier:
                continue  # delivered before a failure further on; the outbox is retrying
            # One transaction id and one key per event: a split post is several events.
            txn = None if key is None else _txn_id(key.part(index))
            tag = {} if key is None else {POST_FIELD: key.part(index)}
            if kind == "text":
                assert isinstance(part, dict)
                sent[index] = await self._room_send(room_id, {**part, **tag}, txn)
            else:
                assert isinstance(part, Attachment)
                sent[index] = await self._send_file(room_id, part, txn, tag)
            self._published.add(mark)
        for index in range(len(parts)):
            self._published.discard((room_id, post.round_id, post.kind.value, index))
        if post.kind == PostKind.ANNOUNCEMENT and len(parts) == 1 and 0 in sent:
            self._announcements[(room_id, post.round_id)] = sent[0]

    async def _posted_before(self, room_id: str, post: RoundPost, count: int) -> dict[int, str]:
        """Which parts of ``post`` are among the bot's latest events in the room (by index).

        Synapse shows the sending device its own transaction id (``unsigned.transaction_id``),
        encrypted or not; an unencrypted event also carries the key in its content.
        """
        key = post.key
        assert key is not None
        by_txn = {_txn_id(key.part(i)): i for i in range(count)}
        by_key = {key.part(i): i for i in range(count)}
        event_filter = {
            "senders": [self.user_id],
            "types": ["m.room.message", "m.room.encrypted"],
        }
        try:
            body = await self._raw_messages(
                room_id, None, event_filter=event_filter, limit=RECENT_EVENTS
            )
        except MatrixError as exc:
            # Cannot look: the transaction ids still make the homeserver refuse a duplicate.
            log.warning("could not read a room to find an earlier post: %s", exc)
            return {}
        found: dict[int, str] = {}
        for event in body.get("chunk") or []:
            if not isinstance(event, dict):
                continue
            unsigned = event.get("unsigned") or {}
            content = event.get("content") or {}
            index = by_txn.get(str(unsigned.get("transaction_id", "")))
            if index is None and isinstance(content, dict):
                index = by_key.get(str(content.get(POST_FIELD, "")))
            if index is not None and isinstance(event.get("event_id"), str):
                found.setdefault(index, event["event_id"])
        return found

    async def _edit_announcement(self, room_id: str, post: RoundPost) -> None:
        original = self._announcements.get((room_id, post.round_id))
        if original is None:
            return
        announcement = await self.engine.build_post(post.round_id, PostKind.ANNOUNCEMENT)
        if announcement is None:
            return
        contents = message_contents(announcement.text + "\n\n" + post.text)
        if len(contents) != 1:
            return
        new = contents[0]
        content = {
            **new,
            "body": "* " + new["body"],
            "formatted_body": "* " + new["formatted_body"],
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        }
        await self._room_send(room_id, content)

    # ------------------------------------------------------------------ forgetting DMs

    def _schedule_cleanup(self, post: RoundPost) -> None:
        """Owe the DMs a sweep for this closed round: once per round, across restarts."""
        if self._cleanup is None:
            return
        opens = post.opens_at
        opens = opens.replace(tzinfo=UTC) if opens.tzinfo is None else opens
        since_ms = int(opens.timestamp() * 1000) - SWEEP_MARGIN_MS
        try:
            if self._cleanup.schedule(post.round_id, since_ms):
                self._cleanup_idle.clear()
                self._cleanup_wake.set()
        except Exception as exc:  # never a reason for the summary not to be posted
            log.warning("could not note that the DMs are to be cleared: %s", _safe(exc))

    async def wait_dm_cleanup(self, timeout: float = 60.0) -> bool:  # noqa: ASYNC109
        """Wait until no DM sweep is owed (True), or for ``timeout`` seconds (False)."""
        try:
            await asyncio.wait_for(self._cleanup_idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _cleanup_loop(self) -> None:
        await self._ready.wait()
        while True:
            await self._cleanup_wake.wait()
            self._cleanup_wake.clear()
            state = self._cleanup
            assert state is not None
            pending = dict(state.pending)
            if not pending:
                self._cleanup_idle.set()
                continue
            try:
                # One pass for every round owed, back to the earliest opening.
                await self._forget_direct_messages(min(pending.values()))
                state.finish(pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the whole pass is idempotent: it is simply run again
                log.warning(
                    "clearing the direct messages failed; retrying in %.0fs\n%s",
                    self.cleanup_retry,
                    _trace(exc),
                )
                await asyncio.sleep(self.cleanup_retry)
            self._cleanup_wake.set()  # another round may have closed meanwhile

    async def _forget_direct_messages(self, since_ms: int) -> None:
        """After a close: make the store forget what it read, then redact the DMs.

        The rooms concerned are found by membership, not by any record of who answered
        which round: every room where no round is posted has its Megolm sessions ratcheted,
        and every room shared by the bot and at most one member (a DM) is swept back to
        ``since_ms``. The history is read first (the events the bot acted on tell how far the
        ratchet may go), but the ratchet does not depend on it: it runs even when the
        homeserver cannot be read, and the redactions are then retried later.
        """
        round_rooms = set(await self._round_channels())
        direct = self._sweep_rooms(round_rooms)
        # Back from the latest sync, not from "now": what is sent while the sweep runs (an
        # export a moderator asks for right after the close) is not the closed round's.
        upto = self._require_client().next_batch or None
        fetched: tuple[dict[str, list[str]], dict[str, int]] | None = None
        failure: BaseException | None = None
        try:
            fetched = await self._fetch_direct_history(direct, since_ms, upto)
        except Exception as exc:  # the homeserver went away: ratchet anyway, sweep later
            failure = exc
        handled = fetched[1] if fetched is not None else {}
        ratcheted, dropped = await self._ratchet_sessions(round_rooms, handled)
        if fetched is None:
            assert failure is not None
            raise failure
        targets = fetched[0]
        client = self._require_client()
        redacted = 0
        refused: dict[str, int] = {}
        for room_id, event_ids in targets.items():
            for event_id in event_ids:
                # Bounded by max_rate_limit_wait per request (see _Client.send); no reason is
                # given: a reason is stored in the clear on the homeserver.
                response = await client.room_redact(room_id, event_id)
                if isinstance(response, nio.RoomRedactResponse):
                    redacted += 1
                else:
                    code = str(getattr(response, "status_code", None) or "error")
                    refused[code] = refused.get(code, 0) + 1
        log.info(
            "direct messages cleared after a round closed: %d events redacted in %d rooms, "
            "%d Megolm sessions ratcheted, %d of the bot's own dropped",
            redacted,
            len(direct),
            ratcheted,
            dropped,
        )
        if refused:
            log.warning(
                "%d direct-message events could not be redacted (%s)",
                sum(refused.values()),
                ", ".join(f"{code} x{n}" for code, n in sorted(refused.items())),
            )

    def _sweep_rooms(self, round_rooms: set[str]) -> list[str]:
        """Rooms shared by the bot and at most one member, where no round is posted.

        Never a room with more members: redacting there would erase other people's talk.
        """
        client = self._require_client()
        me = self.user_id
        return [
            room_id
            for room_id, room in client.rooms.items()
            if room_id not in round_rooms and len(set(room.users) - {me}) <= 1
        ]

    async def _fetch_direct_history(
        self, rooms: Iterable[str], since_ms: int, upto: str | None
    ) -> tuple[dict[str, list[str]], dict[str, int]]:
        """Per room, the events to redact from ``since_ms`` to the sync token ``upto``; and, per
        Megolm session, the highest message index of the events the bot acted on (they were
        decrypted, perhaps before a restart: the ratchet may go past them).
        """
        assert self._seen is not None
        targets: dict[str, list[str]] = {}
        handled: dict[str, int] = {}
        unreadable = 0
        for room_id in rooms:
            found: list[str] = []
            start = upto
            try:
                for _page in range(SWEEP_PAGES):
                    body = await self._raw_messages(room_id, start)
                    chunk = body.get("chunk")
                    chunk = chunk if isinstance(chunk, list) else []
                    older = False
                    for raw in chunk:
                        if not isinstance(raw, dict):
                            continue
                        stamp = raw.get("origin_server_ts")
                        if not isinstance(stamp, int) or stamp < since_ms:
                            older = True
                            continue
                        event_id = raw.get("event_id")
                        content = raw.get("content")
                        unsigned = raw.get("unsigned")
                        if (
                            not isinstance(event_id, str)
                            or not isinstance(content, dict)
                            or not content  # redacted already
                            or (isinstance(unsigned, dict) and "redacted_because" in unsigned)
                        ):
                            continue
                        found.append(event_id)
                        if raw.get("type") == "m.room.encrypted" and event_id in self._seen:
                            _note_index(handled, content)
                    end = body.get("end")
                    if older or not chunk or not isinstance(end, str) or end == start:
                        break
                    start = end
                else:
                    log.warning("a direct message has more history than one sweep covers")
            except MatrixError as exc:
                unreadable += 1
                log.debug("a direct message's history could not be read: %s", exc)
                continue
            targets[room_id] = found
        if unreadable:
            log.warning("%d direct messages' history could not be read", unreadable)
        return targets, handled

    async def _raw_messages(
        self,
        room_id: str,
        start: str | None,
        *,
        event_filter: dict[str, Any] | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of ``/messages``, newest first, as the homeserver sent it.

        Not nio's ``room_messages``: nio would decrypt every event on the way, and the sweep
        only needs ids, types and times. The token goes in the header, never in a URL that an
        exception could print.
        """
        client = self._require_client()
        wanted = event_filter if event_filter is not None else {"types": list(REDACTABLE)}
        query: dict[str, Any] = {
            "dir": "b",
            "limit": limit,
            "filter": json.dumps(wanted, separators=(",", ":")),
        }
        if start:
            query["from"] = start
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?{urlencode(query)}"
        response = await client.send(
            "GET", path, headers={"Authorization": f"Bearer {client.access_token}"}
        )
        try:
            if response.status != 200:
                raise MatrixError(f"reading a room's history failed (HTTP {response.status})")
            body = await response.json(content_type=None)
        finally:
            response.release()
        return body if isinstance(body, dict) else {}

    async def _ratchet_sessions(
        self, round_rooms: set[str], handled: dict[str, int]
    ) -> tuple[int, int]:
        """Make the crypto store unable to decrypt again what the bot read outside rounds' rooms.

        * A member's inbound Megolm session is replaced by the same session exported at the
          message index after the last one the bot decrypted (``read_indexes``, or ``handled``
          for events acted on before a restart): earlier messages no longer decrypt, later ones
          in the same session still do (a member's client keeps one session for days, and
          dropping it would leave the bot deaf to them).
        * A session whose read index is unknown is left as it is. The bot decrypted nothing
          with it (or it would be known): it is typically a key shared ahead of a message
          still being typed, and ratcheting it blindly could lose that message.
        * The bot's own outbound session of each such room is discarded (its next answer
          starts a new one) and its stored inbound copies of its own sessions are deleted:
          nobody will encrypt with them again.

        Both the memory and nio's SQLite store are updated (the store runs with
        ``secure_delete``, so replaced pickles do not linger in free pages).
        """
        client = self._require_client()
        olm, store = client.olm, client.store
        if olm is None or store is None:
            return 0, 0
        for room_id in [r for r in olm.outbound_group_sessions if r not in round_rooms]:
            # As nio's invalidate_outbound_session does, but whether or not the session was
            # shared; and never while a send is between sharing and using it.
            async with self._send_lock(room_id):
                olm.outbound_group_sessions.pop(room_id, None)
        own_key = olm.account.identity_keys["curve25519"]
        ratcheted = dropped = 0
        for session in list(olm.inbound_group_store):
            if session.room_id in round_rooms:
                continue
            if session.sender_key == own_key:
                self._drop_inbound(session)
                dropped += 1
                continue
            read = max(client.read_indexes.get(session.id, -1), handled.get(session.id, -1))
            if read < 0 or read + 1 <= session.first_known_index:
                continue
            replacement = InboundGroupSession.import_session(
                session.export_session(read + 1),
                session.ed25519,
                session.sender_key,
                session.room_id,
                list(session.forwarding_chain),
            )
            olm.inbound_group_store.add(replacement)  # replaces the entry for that session id
            store.save_inbound_group_session(replacement)  # overwrites the stored pickle
            ratcheted += 1
        present = {session.id for session in olm.inbound_group_store}
        client.read_indexes = {k: v for k, v in client.read_indexes.items() if k in present}
        client.read_indexes_changed = True
        self._save_read_indexes()
        return ratcheted, dropped

    def _drop_inbound(self, session: Any) -> None:
        client = self._require_client()
        client.olm.inbound_group_store[session.room_id][session.sender_key].pop(session.id, None)
        store = client.store
        # nio's store has no call that deletes a Megolm session: its own model is bound the
        # way nio's methods bind it (its forwarding-chain rows go with it, ON DELETE CASCADE).
        with store.database.bind_ctx(store.models):
            MegolmInboundSessions.delete().where(
                MegolmInboundSessions.session_id == session.id
            ).execute()


def _forget_chain(chains: dict[str, asyncio.Task[bool]], sender: str, done: Any) -> None:
    if chains.get(sender) is done:
        del chains[sender]


def _txn_id(part: str) -> str:
    """The transaction id of one event of a round's post: the same on every attempt."""
    return f"debatebot.{part}"


def _note_index(indexes: dict[str, int], content: dict[str, Any]) -> None:
    """Record the message index of an encrypted event's content (read from its header)."""
    session_id = content.get("session_id")
    ciphertext = content.get("ciphertext")
    if not isinstance(session_id, str) or not isinstance(ciphertext, str):
        return
    try:
        index = vodozemac.MegolmMessage.from_base64(ciphertext).message_index()
    except Exception:
        return
    indexes[session_id] = max(index, indexes.get(session_id, -1))


def _png_size(data: bytes) -> dict[str, int]:
    """Width and height of a PNG (from its IHDR chunk), for clients that lay images out."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return {
            "w": int.from_bytes(data[16:20], "big"),
            "h": int.from_bytes(data[20:24], "big"),
        }
    return {}
