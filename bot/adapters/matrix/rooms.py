"""Rooms: invites, aliases, creators and power levels, and each member's direct message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nio

from bot.events import ChannelRef
from bot.logs import allow as allow_in_logs

from .errors import MatrixError, _error, _safe

if TYPE_CHECKING:
    from .adapter import MatrixAdapter

log = logging.getLogger(__name__)

PLATFORM = "matrix"
MEGOLM = "m.megolm.v1.aes-sha2"
ROOM_WAIT = 30.0


@dataclass
class _Invite:
    room_id: str
    inviter: str | None
    is_direct: bool
    alias: str | None


@dataclass
class _Creators:
    room_version: str
    users: frozenset[str]

    @property
    def privileged(self) -> bool:
        """Room version 12 and later give creators unlimited power (MSC4289)."""
        version = self.room_version
        return not (version.isdigit() and int(version) < 12)


class Rooms:
    """What the adapter knows of rooms, and the decisions made from it."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter
        self.direct: dict[str, str] = {}
        self.direct_invites: set[str] = set()
        self.aliases: dict[str, str] = {}
        self.creators: dict[str, _Creators] = {}
        self._dm_lock = asyncio.Lock()

    def save_direct(self) -> None:
        self.adapter.store.save_direct(self.direct)

    # ------------------------------------------------------------------ invites

    def invite_from(self, room_id: str, state: Iterable[Any]) -> _Invite:
        invite = _Invite(room_id=room_id, inviter=None, is_direct=False, alias=None)
        for event in state:
            if (
                isinstance(event, nio.InviteMemberEvent)
                and event.state_key == self.adapter.user_id
            ):
                invite.inviter = event.sender
                invite.is_direct = bool(event.content.get("is_direct"))
            elif isinstance(event, nio.InviteAliasEvent):
                invite.alias = event.canonical_alias
        return invite

    async def handle_invite(self, invite: _Invite) -> None:
        client = self.adapter.require_client()
        if invite.room_id in client.rooms:
            return
        if invite.is_direct or await self.invite_allowed(invite):
            response = await client.join(invite.room_id)
            if not isinstance(response, nio.JoinResponse):
                raise MatrixError(f"joining a room failed: {_error(response)}")
            if invite.is_direct and invite.inviter:
                self.direct_invites.add(invite.room_id)
                self.direct[invite.inviter] = invite.room_id
                self.save_direct()
                # Their first message there is answered after the round's question.
                self.adapter.events.to_greet.add(invite.inviter)
                log.info("joined a direct message")
            else:
                log.info("joined room %s", invite.alias or "(no alias)")
        else:
            await client.room_leave(invite.room_id)
            # A room id is an identifier (and bot.logs scrubs it): the alias, when the invite
            # carries one, is what an organiser adds to allowed_rooms.
            alias = invite.alias or "(no alias)"
            log.info("declined an invite to room %s (not in allowed_rooms)", alias)

    def configured_keys(self) -> set[str]:
        adapter = self.adapter
        keys = {
            channel.key
            for debate in adapter.debates()
            for channel in (*debate.channels, debate.moderation_channel)
            if channel is not None and channel.platform == PLATFORM
        }
        for r in adapter.rounds.open_rounds():
            keys.update(c.channel for c in r.channels if c.platform == PLATFORM)
        return keys

    async def invite_allowed(self, invite: _Invite) -> bool:
        for entry in [*self.adapter.config.allowed_rooms, *self.configured_keys()]:
            if entry.startswith("!") and entry == invite.room_id:
                return True
            if entry.startswith("#") and (
                entry == invite.alias or await self.resolve(entry) == invite.room_id
            ):
                return True
            if entry.startswith(":"):
                names = (invite.room_id, invite.alias or "", invite.inviter or "")
                if any(name.endswith(entry) for name in names):
                    return True
        return False

    # ------------------------------------------------------------------ rooms and aliases

    async def resolve(self, key: str) -> str | None:
        """Room id for a configured key (a room id, or an alias resolved once)."""
        if not key.startswith("#"):
            return key
        if key in self.aliases:
            return self.aliases[key]
        response = await self.adapter.require_client().room_resolve_alias(key)
        if not isinstance(response, nio.RoomResolveAliasResponse):
            log.warning("room alias %s does not resolve: %s", key, _error(response))
            return None
        self.aliases[key] = response.room_id
        return str(response.room_id)

    async def resolve_configured_aliases(self) -> None:
        for key in self.configured_keys():
            # The rooms rounds are posted in are public places the organiser named: keeping
            # them readable in the logs tells nothing about any member (bot.logs.allow).
            allow_in_logs(key)
            if not key.startswith("#"):
                continue
            try:
                room_id = await self.resolve(key)
            except Exception as exc:  # resolved again when a round is posted there
                log.debug("room alias %s not resolved at start: %s", key, _safe(exc))
                continue
            if room_id is not None:
                allow_in_logs(room_id)

    async def join_configured_rooms(self) -> None:
        client = self.adapter.require_client()
        for key in sorted(self.configured_keys()):
            room_id = await self.resolve(key)
            if room_id is not None and room_id not in client.rooms:
                response = await client.join(key)
                if not isinstance(response, nio.JoinResponse):
                    log.info("not in room %s yet (invite the bot): %s", key, _error(response))

    async def round_channels(self) -> dict[str, ChannelRef]:
        """Room id -> the channel reference rounds use for it (an id or an alias)."""
        mapping: dict[str, ChannelRef] = {}
        for key in sorted(self.configured_keys()):
            room_id = await self.resolve(key)
            if room_id is not None:
                mapping.setdefault(room_id, ChannelRef(PLATFORM, key))
        for r in self.adapter.rounds.open_rounds():
            for channel in r.channels:
                if channel.platform == PLATFORM:
                    room_id = await self.resolve(channel.channel)
                    if room_id is not None:
                        mapping[room_id] = channel
        return mapping

    async def room_id_for(self, channel: ChannelRef) -> str:
        room_id = await self.resolve(channel.channel)
        if room_id is None:
            raise MatrixError(f"room {channel.channel} not found")
        client = self.adapter.require_client()
        if room_id not in client.rooms:
            response = await client.join(channel.channel)
            if not isinstance(response, nio.JoinResponse):
                raise MatrixError(f"the bot is not in room {channel.channel}: {_error(response)}")
            joined = await self.adapter.wait_synced(lambda: room_id in client.rooms, ROOM_WAIT)
            if not joined:
                raise MatrixError(f"room {channel.channel} did not show up in the sync")
        return room_id

    # ------------------------------------------------------------------ rights

    def note_state(self, room_id: str, event: Any) -> None:
        if isinstance(event, nio.RoomCreateEvent):
            content = event.source.get("content", {})
            users = {event.sender}
            if isinstance(content.get("creator"), str):
                users.add(content["creator"])
            extra = content.get("additional_creators")
            if isinstance(extra, list):
                users.update(u for u in extra if isinstance(u, str))
            self.creators[room_id] = _Creators(
                str(content.get("room_version", "1")), frozenset(users)
            )

    async def creators_of(self, room_id: str) -> _Creators:
        known = self.creators.get(room_id)
        if known is not None:
            return known
        response = await self.adapter.require_client().room_get_state(room_id)
        if isinstance(response, nio.RoomGetStateResponse):
            for raw in response.events:
                if raw.get("type") == "m.room.create":
                    self.note_state(room_id, nio.RoomCreateEvent.from_dict(raw))
        return self.creators.get(room_id, _Creators("1", frozenset()))

    async def moderates(self, user_id: str, channel: ChannelRef) -> bool:
        """Whether ``user_id`` moderates the round room ``channel`` (ModeratorCheck).

        Decided by the power levels of that room itself, wherever the command was typed:
        being an admin of some other room (one the sender created and invited the bot to, a
        DM that gained a member) gives no rights over a round posted elsewhere.
        """
        client = self.adapter.client
        if channel.platform != PLATFORM or client is None:
            return False
        room_id = await self.resolve(channel.channel)
        room = client.rooms.get(room_id) if room_id is not None else None
        if room is None:
            return False
        return await self.is_moderator(room, user_id)

    async def is_moderator(self, room: Any, user_id: str) -> bool:
        """Power level >= ``moderator_power_level`` in ``room``, or a creator of a v12+ room."""
        level = self.adapter.config.moderator_power_level
        if room.power_levels.get_user_level(user_id) >= level:
            return True
        creators = await self.creators_of(room.room_id)
        return creators.privileged and user_id in creators.users

    # ------------------------------------------------------------------ direct messages

    def is_direct_room(self, room: Any, user_id: str, round_rooms: Iterable[str]) -> bool:
        """A DM: a room shared by the bot and this member only, where no round is posted.

        Membership decides, not the ``is_direct`` flag of an invite: a member's answers
        must never land in a room where someone else can read them.
        """
        if room.room_id in round_rooms:
            return False
        return set(room.users) - {self.adapter.user_id} == {user_id}

    def sweep_rooms(self, round_rooms: set[str]) -> list[str]:
        """Rooms shared by the bot and at most one member, where no round is posted.

        Never a room with more members: redacting there would erase other people's talk.
        """
        client = self.adapter.require_client()
        me = self.adapter.user_id
        return [
            room_id
            for room_id, room in client.rooms.items()
            if room_id not in round_rooms and len(set(room.users) - {me}) <= 1
        ]

    async def direct_room(self, user_id: str) -> str:
        """The member's DM with the bot: the known one, an existing one, or a new one."""
        client = self.adapter.require_client()
        me = self.adapter.user_id
        async with self._dm_lock:
            round_rooms = set(await self.round_channels())

            def private(room_id: str) -> bool:
                # Only a room shared by the bot and this member alone: a DM that gained a
                # member (even one merely invited) would show private answers to them.
                room = client.rooms.get(room_id)
                return bool(
                    room is not None
                    and room_id not in round_rooms
                    and set(room.users) == {me, user_id}
                )

            known = self.direct.get(user_id)
            if known and private(known):
                return known
            for room_id in list(client.rooms):
                if private(room_id):
                    self.direct[user_id] = room_id
                    self.save_direct()
                    return str(room_id)
            return await self._open_direct(user_id)

    async def _open_direct(self, user_id: str) -> str:
        client = self.adapter.require_client()
        response = await client.room_create(
            is_direct=True,
            invite=[user_id],
            preset=nio.RoomPreset.trusted_private_chat,
            initial_state=[
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
            ],
        )
        if not isinstance(response, nio.RoomCreateResponse):
            raise MatrixError(f"could not open a direct message: {_error(response)}")
        room_id = str(response.room_id)
        self.direct[user_id] = room_id
        self.save_direct()

        # A long-polling sync can return the new room half-built (before the invite or
        # the encryption event): sending then would share the keys with nobody.
        def ready() -> bool:
            room = client.rooms.get(room_id)
            return bool(room is not None and room.encrypted and user_id in room.users)

        if not await self.adapter.wait_synced(ready, ROOM_WAIT):
            raise MatrixError("a new direct message did not show up in the sync")
        return room_id
