"""The seam between the core and the chat platforms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.events import ChannelRef, PostKind, RoundPost

if TYPE_CHECKING:
    from bot.core import OpenRound, RoundInfo


class HeldElsewhere(RuntimeError):
    """Raised by a leader-only adapter's ``start`` (one with ``leader_only = True``) while
    another process still holds what it needs alone (a Matrix device's store): the app tries
    again shortly."""


@runtime_checkable
class ChatPort(Protocol):
    """What the core needs from a chat platform.

    The core calls ``publish`` for every post of a round (announcement, reminder, progress,
    closing notice, summary) on each channel of that platform. An adapter raises an exception
    when it could not deliver; the core keeps the post in its outbox and tries again later.
    ``PROGRESS`` posts carry the participation count; adapters that cannot edit a previous
    message may ignore them.

    A post can be delivered again after a crash between its delivery and the outbox's mark.
    Posts from the outbox carry ``post.key`` (:class:`~bot.events.PostKey`), the same on every
    attempt, with ``retry`` set once an attempt began: an adapter sends it where its platform
    de-duplicates and, on a retry, looks for what already reached the channel, so that members
    see each post once.
    """

    platform: str

    async def publish(self, channel: ChannelRef, post: RoundPost) -> None: ...


@runtime_checkable
class ModeratorCheck(Protocol):
    """Whether a user moderates one channel, by that platform's own permissions.

    Moderator rights are always decided in the channel a round (or a debate) is posted in,
    never where a command happens to be typed: a moderator of some other room, server or
    guild has no rights over a round that is not posted there.
    """

    platform: str

    async def moderates(self, user_id: str, channel: ChannelRef) -> bool: ...


class RoundsView(Protocol):
    """The rounds as adapters may read them (the engine is one)."""

    def open_rounds(self) -> list[OpenRound]: ...

    async def list_rounds(
        self, debate_id: str | None = None, round_id: int | None = None
    ) -> Sequence[RoundInfo]: ...

    async def build_post(self, round_id: int, kind: PostKind) -> RoundPost | None: ...
