"""Forgetting DMs after a round closes: the Megolm ratchet, then the redaction sweep.

When a round's summary (or closing notice) is published, the bot, in the background and once
per round: ratchets the Megolm sessions of every room where no round is posted past the last
message it decrypted (so its store can no longer decrypt what it has read, while the member's
later messages in the same session still decrypt), discards its own outbound session there and
its stored copies of its own, then redacts every message, encrypted event and reaction of its
DMs sent between the round's opening and the sweep. It stores no link between a member and a
round to do so: it sweeps every DM.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC
from typing import TYPE_CHECKING, Any

import nio
from nio.crypto import InboundGroupSession
from nio.store.models import MegolmInboundSessions

from bot.events import RoundPost

from .client import megolm_index
from .errors import MatrixError, _safe, _trace
from .store import CleanupState

if TYPE_CHECKING:
    from .adapter import MatrixAdapter

log = logging.getLogger(__name__)

SWEEP_PAGES = 200
# Events this long before a round's opening are swept too: the homeserver's clock and the
# bot's may differ by a little.
SWEEP_MARGIN_MS = 60_000
CLEANUP_RETRY = 60.0

_Targets = dict[str, list[str]]


class Forgetting:
    """The DM sweeps owed (``dm_cleanup.json``) and the background task that does them."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter
        self.state: CleanupState | None = None
        self.retry = CLEANUP_RETRY
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()

    def schedule(self, post: RoundPost) -> None:
        """Owe the DMs a sweep for this closed round: once per round, across restarts."""
        if self.state is None:
            return
        opens = post.opens_at
        opens = opens.replace(tzinfo=UTC) if opens.tzinfo is None else opens
        since_ms = int(opens.timestamp() * 1000) - SWEEP_MARGIN_MS
        try:
            if self.state.schedule(post.round_id, since_ms):
                self.idle.clear()
                self.wake.set()
        except Exception as exc:  # never a reason for the summary not to be posted
            log.warning("could not note that the DMs are to be cleared: %s", _safe(exc))

    async def wait_idle(self, timeout: float = 60.0) -> bool:  # noqa: ASYNC109
        """Wait until no DM sweep is owed (True), or for ``timeout`` seconds (False)."""
        try:
            await asyncio.wait_for(self.idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        await self.adapter._ready.wait()
        while True:
            await self.wake.wait()
            self.wake.clear()
            state = self.state
            assert state is not None
            pending = dict(state.pending)
            if not pending:
                self.idle.set()
                continue
            try:
                # One pass for every round owed, back to the earliest opening.
                await self.forget_direct_messages(min(pending.values()))
                state.finish(pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the whole pass is idempotent: it is simply run again
                log.warning(
                    "clearing the direct messages failed; retrying in %.0fs\n%s",
                    self.retry,
                    _trace(exc),
                )
                await asyncio.sleep(self.retry)
            self.wake.set()  # another round may have closed meanwhile

    async def forget_direct_messages(self, since_ms: int) -> None:
        """After a close: make the store forget what it read, then redact the DMs.

        The rooms concerned are found by membership, not by any record of who answered
        which round: every room where no round is posted has its Megolm sessions ratcheted,
        and every room shared by the bot and at most one member (a DM) is swept back to
        ``since_ms``. The history is read first (the events the bot acted on tell how far the
        ratchet may go), but the ratchet does not depend on it: it runs even when the
        homeserver cannot be read, and the redactions are then retried later.
        """
        adapter = self.adapter
        round_rooms = set(await adapter.rooms.round_channels())
        direct = adapter.rooms.sweep_rooms(round_rooms)
        # Back from the latest sync, not from "now": what is sent while the sweep runs (an
        # export a moderator asks for right after the close) is not the closed round's.
        upto = adapter.require_client().next_batch or None
        fetched: tuple[_Targets, dict[str, int]] | None = None
        failure: BaseException | None = None
        try:
            fetched = await self.fetch_direct_history(direct, since_ms, upto)
        except Exception as exc:  # the homeserver went away: ratchet anyway, sweep later
            failure = exc
        handled = fetched[1] if fetched is not None else {}
        ratcheted, dropped = await self.ratchet_sessions(round_rooms, handled)
        if fetched is None:
            assert failure is not None
            raise failure
        redacted, refused = await self._redact(fetched[0])
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

    async def _redact(self, targets: _Targets) -> tuple[int, dict[str, int]]:
        """Redact ``targets``; how many were, and the error codes of those refused."""
        client = self.adapter.require_client()
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
        return redacted, refused

    async def fetch_direct_history(
        self, rooms: Iterable[str], since_ms: int, upto: str | None
    ) -> tuple[_Targets, dict[str, int]]:
        """Per room, the events to redact from ``since_ms`` to the sync token ``upto``; and, per
        Megolm session, the highest message index of the events the bot acted on (they were
        decrypted, perhaps before a restart: the ratchet may go past them).
        """
        targets: _Targets = {}
        handled: dict[str, int] = {}
        unreadable = 0
        for room_id in rooms:
            try:
                targets[room_id] = await self._room_targets(room_id, since_ms, upto, handled)
            except MatrixError as exc:
                unreadable += 1
                log.debug("a direct message's history could not be read: %s", exc)
        if unreadable:
            log.warning("%d direct messages' history could not be read", unreadable)
        return targets, handled

    async def _room_targets(
        self, room_id: str, since_ms: int, upto: str | None, handled: dict[str, int]
    ) -> list[str]:
        """The events of one room to redact, newest first; notes ``handled`` indexes."""
        client = self.adapter.require_client()
        found: list[str] = []
        start = upto
        for _page in range(SWEEP_PAGES):
            body = await client.raw_messages(room_id, start)
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
                self._note_target(raw, found, handled)
            end = body.get("end")
            if older or not chunk or not isinstance(end, str) or end == start:
                break
            start = end
        else:
            log.warning("a direct message has more history than one sweep covers")
        return found

    def _note_target(self, raw: dict[str, Any], found: list[str], handled: dict[str, int]) -> None:
        """Add one event of the swept period to ``found``, unless it is redacted already."""
        event_id = raw.get("event_id")
        content = raw.get("content")
        unsigned = raw.get("unsigned")
        if (
            not isinstance(event_id, str)
            or not isinstance(content, dict)
            or not content  # redacted already
            or (isinstance(unsigned, dict) and "redacted_because" in unsigned)
        ):
            return
        found.append(event_id)
        seen = self.adapter.seen
        if raw.get("type") == "m.room.encrypted" and seen is not None and event_id in seen:
            _note_index(handled, content)

    async def ratchet_sessions(
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
        client = self.adapter.require_client()
        olm, store = client.olm, client.store
        if olm is None or store is None:
            return 0, 0
        await self._drop_outbound(round_rooms)
        own_key = olm.account.identity_keys["curve25519"]
        ratcheted = dropped = 0
        for session in list(olm.inbound_group_store):
            if session.room_id in round_rooms:
                continue
            if session.sender_key == own_key:
                self._drop_inbound(session)
                dropped += 1
            elif self._ratchet(session, handled):
                ratcheted += 1
        present = {session.id for session in olm.inbound_group_store}
        client.read_indexes = {k: v for k, v in client.read_indexes.items() if k in present}
        client.read_indexes_changed = True
        self.adapter.save_read_indexes()
        return ratcheted, dropped

    async def _drop_outbound(self, round_rooms: set[str]) -> None:
        olm = self.adapter.require_client().olm
        for room_id in [r for r in olm.outbound_group_sessions if r not in round_rooms]:
            # As nio's invalidate_outbound_session does, but whether or not the session was
            # shared; and never while a send is between sharing and using it.
            async with self.adapter.sender.lock(room_id):
                olm.outbound_group_sessions.pop(room_id, None)

    def _ratchet(self, session: Any, handled: dict[str, int]) -> bool:
        """Replace ``session`` by itself from the index after the last one read, if known."""
        client = self.adapter.require_client()
        read = max(client.read_indexes.get(session.id, -1), handled.get(session.id, -1))
        if read < 0 or read + 1 <= session.first_known_index:
            return False
        replacement = InboundGroupSession.import_session(
            session.export_session(read + 1),
            session.ed25519,
            session.sender_key,
            session.room_id,
            list(session.forwarding_chain),
        )
        client.olm.inbound_group_store.add(replacement)  # replaces the entry for that session id
        client.store.save_inbound_group_session(replacement)  # overwrites the stored pickle
        return True

    def _drop_inbound(self, session: Any) -> None:
        client = self.adapter.require_client()
        client.olm.inbound_group_store[session.room_id][session.sender_key].pop(session.id, None)
        store = client.store
        # nio's store has no call that deletes a Megolm session: its own model is bound the
        # way nio's methods bind it (its forwarding-chain rows go with it, ON DELETE CASCADE).
        with store.database.bind_ctx(store.models):
            MegolmInboundSessions.delete().where(
                MegolmInboundSessions.session_id == session.id
            ).execute()


def _note_index(indexes: dict[str, int], content: dict[str, Any]) -> None:
    """Record the message index of an encrypted event's content (read from its header)."""
    session_id = content.get("session_id")
    ciphertext = content.get("ciphertext")
    if not isinstance(session_id, str) or not isinstance(ciphertext, str):
        return
    index = megolm_index(ciphertext)
    if index is not None:
        indexes[session_id] = max(index, indexes.get(session_id, -1))
