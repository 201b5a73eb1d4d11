"""Real Matrix users for the tests: a nio client with encryption that syncs in the background.

A :class:`Member` records every message, reaction and invite it sees, accepts invites, and
lets a test wait for what the bot should send, with a timeout instead of fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nio

MEGOLM = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
WAIT = 30.0


def has(text: str) -> Callable[[Seen], bool]:
    """A message from the bot whose text contains ``text`` (for :meth:`Member.wait_message`)."""
    return lambda seen: text in seen.body


@dataclass
class Seen:
    room_id: str
    event: Any

    @property
    def content(self) -> dict[str, Any]:
        content: dict[str, Any] = self.event.source.get("content", {})
        return content

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))


class Member:
    """One user, one device, one background sync."""

    def __init__(self, homeserver: str, user_id: str, password: str, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.user_id = user_id
        self.password = password
        self.client = nio.AsyncClient(
            homeserver,
            user_id,
            store_path=str(store),
            config=nio.AsyncClientConfig(
                encryption_enabled=True,
                store_sync_tokens=False,
                max_timeout_retry_wait_time=1,
            ),
        )
        self.seen: list[Seen] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._joins: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        response = await self.client.login(self.password, device_name="test")
        assert isinstance(response, nio.LoginResponse), response
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self.client.add_event_callback(
            self._on_event, (nio.RoomMessage, nio.ReactionEvent, nio.MegolmEvent)
        )
        self.client.add_event_callback(self._on_invite, (nio.InviteMemberEvent,))
        self.client.add_response_callback(self._on_sync, (nio.SyncResponse,))
        await self.client.sync(timeout=0, full_state=True)
        self._task = asyncio.create_task(self.client.sync_forever(timeout=2000))

    async def stop(self) -> None:
        for task in [self._task, *self._joins]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.client.close()

    async def _on_event(self, room: Any, event: Any) -> None:
        self.seen.append(Seen(room.room_id, event))

    async def _on_invite(self, room: Any, event: Any) -> None:
        if event.state_key == self.user_id and event.membership == "invite":
            task = asyncio.create_task(self.client.join(room.room_id))
            self._joins.add(task)
            task.add_done_callback(self._joins.discard)

    async def _on_sync(self, _response: Any) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ waiting

    async def wait(self, check: Callable[[], Any], timeout: float = WAIT, what: str = "") -> Any:  # noqa: ASYNC109
        """Wait until ``check()`` returns something truthy (re-checked after every sync)."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                found = check()
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.user_id}: timed out waiting for {what or check}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    def messages(self, room_id: str | None = None, sender: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if isinstance(s.event, nio.RoomMessage)
            and (room_id is None or s.room_id == room_id)
            and (sender is None or s.event.sender == sender)
        ]

    async def wait_message(
        self,
        predicate: Callable[[Seen], bool],
        room_id: str | None = None,
        sender: str | None = None,
        timeout: float = WAIT,  # noqa: ASYNC109
        after: int = 0,
    ) -> Seen:
        """The first message (from index ``after`` of :attr:`seen`) matching ``predicate``."""

        def check() -> Seen | None:
            for s in self.seen[after:]:
                if (
                    isinstance(s.event, nio.RoomMessage)
                    and (room_id is None or s.room_id == room_id)
                    and (sender is None or s.event.sender == sender)
                    and predicate(s)
                ):
                    return s
            return None

        found: Seen = await self.wait(check, timeout, what=f"a message in {room_id}")
        return found

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = WAIT) -> None:  # noqa: ASYNC109
        def check() -> bool:
            room = self.client.rooms.get(room_id)
            return bool(room and user_id in room.users and not room.users[user_id].invited)

        await self.wait(check, timeout, what=f"{user_id} to join {room_id}")

    async def wait_in_room(self, room_id: str, timeout: float = WAIT) -> None:  # noqa: ASYNC109
        await self.wait(lambda: room_id in self.client.rooms, timeout, what=f"room {room_id}")

    # ------------------------------------------------------------------ acting

    async def send(self, room_id: str, text: str) -> str:
        content = {"msgtype": "m.text", "body": text}
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(response, nio.RoomSendResponse), response
        return str(response.event_id)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        response = await self.client.room_send(
            room_id, "m.reaction", content, ignore_unverified_devices=True
        )
        assert isinstance(response, nio.RoomSendResponse), response
        return str(response.event_id)

    async def create_dm(self, bot: str, *, encrypted: bool) -> str:
        response = await self.client.room_create(
            is_direct=True,
            invite=[bot],
            preset=nio.RoomPreset.trusted_private_chat,
            initial_state=[MEGOLM] if encrypted else [],
        )
        assert isinstance(response, nio.RoomCreateResponse), response
        room_id = str(response.room_id)

        # A sync can show the new room before its invite or encryption event; sending then
        # would share the room key with nobody.
        def built() -> bool:
            room = self.client.rooms.get(room_id)
            return bool(room and bot in room.users and room.encrypted == encrypted)

        await self.wait(built, what=f"room {room_id} to be built")
        return room_id

    def dm_with(self, bot: str) -> str | None:
        """The room this member shares with the bot and nobody else, if any."""
        for room in self.client.rooms.values():
            if set(room.users) == {self.user_id, bot}:
                return str(room.room_id)
        return None
