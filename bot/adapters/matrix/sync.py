"""The sync loop and its worker: each sync's events handled in order, the token saved after.

nio's own store saves the sync token *before* the event callbacks run, so a crash mid-handler
would skip events. Here a sync loop hands each sync's events, in order, to one worker, and the
worker writes ``sync_token`` only after it has handled all of them (see the package's doc).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import nio

from .errors import _error, _safe, _trace
from .rooms import _Invite

if TYPE_CHECKING:
    from .adapter import MatrixAdapter

log = logging.getLogger(__name__)

GAP_PAGES = 20


@dataclass
class _Batch:
    """What one sync asks the worker to do, and the token to save once it is done."""

    token: str
    invites: list[_Invite] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)
    first: bool = False


class SyncLoop:
    """Syncs, sorts each sync into a batch for the worker, and completes limited timelines."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter

    def sync_filter(self) -> dict[str, Any]:
        return {
            "presence": {"not_types": ["*"]},
            "room": {
                "timeline": {"limit": self.adapter.timeline_limit},
                "state": {"lazy_load_members": False},
                "ephemeral": {"not_types": ["*"]},
            },
        }

    async def run(self) -> None:
        adapter = self.adapter
        client = adapter.require_client()
        # Each sync starts from the last one whose events were queued: a sync whose events
        # could not be collected (the homeserver went away mid-way) is simply asked again.
        previous = adapter.store.load_token()
        fresh = previous is None
        first = True
        delay = adapter.reconnect_min_delay
        while True:
            try:
                response = await client.sync(
                    timeout=0 if first else adapter.sync_timeout_ms,
                    sync_filter=self.sync_filter(),
                    since=previous,
                    full_state=True if first and previous else None,
                )
                if isinstance(response, nio.SyncResponse):
                    batch = await self.collect(response, history=first and fresh, since=previous)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Matrix sync failed (%s); retrying in %.1fs", _safe(exc), delay)
                delay = await self._back_off(delay)
                continue
            if not isinstance(response, nio.SyncResponse):
                log.warning("Matrix sync refused (%s); retrying in %.1fs", _error(response), delay)
                await self._relogin_if_needed(response)
                delay = await self._back_off(delay)
                continue
            delay = adapter.reconnect_min_delay
            batch.first = first
            previous = response.next_batch
            first = False
            adapter.queue.put_nowait(batch)
            async with adapter._synced:
                adapter._synced.notify_all()
            await self.crypto_upkeep()

    async def _back_off(self, delay: float) -> float:
        await asyncio.sleep(delay)
        return min(delay * 2, self.adapter.reconnect_max_delay)

    async def _relogin_if_needed(self, response: Any) -> None:
        adapter = self.adapter
        if getattr(response, "status_code", None) != "M_UNKNOWN_TOKEN" or not adapter.password:
            return
        try:
            await adapter.password_login()
        except Exception as exc:  # the next sync is refused again, and this is retried
            log.warning("logging in to Matrix again failed: %s", _safe(exc))
        else:
            log.info("logged in to Matrix again")

    async def crypto_upkeep(self) -> None:
        """What nio's ``sync_forever`` does between syncs: to-device messages and keys."""
        client = self.adapter.require_client()
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

    async def collect(self, response: Any, *, history: bool, since: str | None) -> _Batch:
        """Sort one sync into invites and the events the worker may act on."""
        rooms = self.adapter.rooms
        self.adapter.undecryptable.note_to_device(response.to_device_events)
        batch = _Batch(token=response.next_batch)
        for room_id, info in response.rooms.invite.items():
            batch.invites.append(rooms.invite_from(room_id, info.invite_state))
        for room_id, info in response.rooms.join.items():
            for event in info.state:
                rooms.note_state(room_id, event)
            timeline = list(info.timeline.events)
            for event in timeline:
                rooms.note_state(room_id, event)
            if history:
                continue
            if info.timeline.limited and info.timeline.prev_batch:
                timeline = await self.missed(room_id, info.timeline.prev_batch, since, timeline)
            start = self.actionable_start(room_id, timeline)
            log.debug(
                "%d new events in a room (limited: %s), acting from #%d",
                len(timeline),
                info.timeline.limited,
                start,
            )
            batch.events.extend((room_id, event) for event in timeline[start:])
        return batch

    def is_own_member(self, event: Any, *memberships: str) -> bool:
        return bool(
            isinstance(event, nio.RoomMemberEvent)
            and event.state_key == self.adapter.user_id
            and event.membership in memberships
            and not (event.membership == "join" and event.prev_membership == "join")
        )

    def actionable_start(self, room_id: str, timeline: list[Any]) -> int:
        """Index of the first event to act on.

        Events before the bot joined are history; in a DM the bot was invited to, what the
        member wrote after the invite counts.
        """
        joined_at = invited_at = None
        for index, event in enumerate(timeline):
            if self.is_own_member(event, "join"):
                joined_at = index
            elif self.is_own_member(event, "invite"):
                invited_at = index
        if joined_at is None:
            return 0
        direct = room_id in self.adapter.rooms.direct_invites
        if invited_at is not None and invited_at < joined_at and direct:
            return invited_at + 1
        return joined_at + 1

    async def missed(
        self, room_id: str, prev_batch: str, since: str | None, timeline: list[Any]
    ) -> list[Any]:
        """``timeline`` completed with the events a limited sync left out, oldest first."""
        if any(self.is_own_member(e, "join") for e in timeline):
            # Just joined: only a DM's messages between the invite and the join are missing.
            direct = room_id in self.adapter.rooms.direct_invites
            if not direct or any(self.is_own_member(e, "invite") for e in timeline):
                return timeline
            return await self.fill_gap(room_id, prev_batch, None, "invite") + timeline
        return await self.fill_gap(room_id, prev_batch, since, "join") + timeline

    async def fill_gap(
        self, room_id: str, prev_batch: str, since: str | None, arrival: str
    ) -> list[Any]:
        """Older events, fetched backwards with ``/messages``, oldest first.

        Down to the previous sync token, or to the bot's own ``arrival`` (its invite or join),
        which is kept so that :meth:`actionable_start` sees it. Without a token, nothing is
        returned unless the arrival is found: nothing else tells what is new.
        """
        client = self.adapter.require_client()
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
                if self.is_own_member(event, arrival):
                    events.reverse()
                    return events
            if not response.chunk or not response.end or response.end == start:
                break
            start = response.end
        if since is None:
            return []
        events.reverse()
        return events


_Handling = deque[tuple[_Batch, list["asyncio.Task[bool]"]]]


class Worker:
    """Hands each sync's events to one task per sender, and saves tokens as batches finish.

    A member's events are handled in order (each sender's task waits for that sender's
    previous one), members are handled in parallel, and the worker goes on to the next
    sync at once: a member waiting on a stuck database holds up nobody else. A sync
    token is saved only once its batch and every earlier one are fully handled, so a
    restart replays whatever was not.
    """

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter

    async def run(self) -> None:
        adapter = self.adapter
        handling: _Handling = deque()
        chains: dict[str, asyncio.Task[bool]] = {}
        try:
            while True:
                batch = await adapter.queue.get()
                if adapter.closing:
                    break
                await self._invites(batch)
                if adapter.closing:
                    break
                tasks = self._start_senders(batch, chains)
                handling.append((batch, tasks))
                for task in tasks:
                    task.add_done_callback(lambda _: self.settle(handling))
                self.settle(handling)
            # Stopping: let the events in hand finish (stop() bounds the wait).
            if chains:
                await asyncio.wait(set(chains.values()))
        finally:
            for task in list(chains.values()):
                task.cancel()

    async def _invites(self, batch: _Batch) -> None:
        for invite in batch.invites:
            if self.adapter.closing:
                return
            try:
                await self.adapter.rooms.handle_invite(invite)
            except Exception as exc:
                log.error("could not handle an invite\n%s", _trace(exc))

    def _start_senders(
        self, batch: _Batch, chains: dict[str, asyncio.Task[bool]]
    ) -> list[asyncio.Task[bool]]:
        by_sender: dict[str, list[tuple[str, Any]]] = {}
        for room_id, event in batch.events:
            sender = str(getattr(event, "sender", ""))
            by_sender.setdefault(sender, []).append((room_id, event))
        tasks: list[asyncio.Task[bool]] = []
        for sender, events in by_sender.items():
            task = asyncio.create_task(self.handle_in_order(events, chains.get(sender)))
            chains[sender] = task
            task.add_done_callback(partial(_forget_chain, chains, sender))
            tasks.append(task)
        return tasks

    def settle(self, handling: _Handling) -> None:
        """Save the token of every batch fully handled, oldest first."""
        adapter = self.adapter
        while handling and all(t.done() for t in handling[0][1]):
            batch, tasks = handling.popleft()
            if not all(not t.cancelled() and t.exception() is None and t.result() for t in tasks):
                handling.clear()  # stopped part-way: replayed from the last saved token
                return
            # Before the token: a restart replays from the token, and what was decrypted up to
            # it must be known to the ratchet.
            adapter.save_read_indexes()
            if batch.token:
                adapter.store.save_token(batch.token)
            if batch.first:
                adapter._ready.set()

    async def handle_in_order(
        self, events: list[tuple[str, Any]], previous: asyncio.Task[bool] | None
    ) -> bool:
        """Handle one sender's events of a batch after their earlier ones; False if stopped."""
        if previous is not None:
            await asyncio.wait({previous})
        for room_id, event in events:
            if self.adapter.closing:
                return False
            try:
                await self.adapter.events.handle(room_id, event)
            except Exception as exc:
                log.error("could not handle an event\n%s", _trace(exc))
        return True


def _forget_chain(chains: dict[str, asyncio.Task[bool]], sender: str, done: Any) -> None:
    if chains.get(sender) is done:
        del chains[sender]
