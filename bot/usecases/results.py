"""Who acts (:class:`Actor`) and what each use-case returns (plain values, no platform types).

A result carries the data a front-end renders and, where both front-ends say the same thing,
the composed ``text`` (from the catalogues in :mod:`bot.i18n`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.engine import ArgumentToVote, MyPosition, OpenRound, RoundInfo
from bot.events import Attachment, ChannelRef
from bot.ports import ModeratorCheck

# The platform's answer to "does this user moderate one of these channels?", by its own
# permissions (see :class:`bot.ports.ModeratorCheck`). Supplied by the adapter; the use-cases
# decide which channels to ask about.
ModeratesAny = Callable[[Sequence[ChannelRef]], Awaitable[bool]]


async def _moderates_nothing(channels: Sequence[ChannelRef]) -> bool:
    return False


def checked_by(check: ModeratorCheck | None, platform: str, user_id: str) -> ModeratesAny:
    """The fact as a :class:`~bot.ports.ModeratorCheck` gives it, one channel at a time (only
    channels of the user's own platform count; no check, no rights)."""

    async def moderates(channels: Sequence[ChannelRef]) -> bool:
        if check is None:
            return False
        for channel in dict.fromkeys(channels):
            if channel.platform == platform and await check.moderates(user_id, channel):
                return True
        return False

    return moderates


@dataclass(frozen=True)
class Actor:
    """Someone using the bot, and the facts their platform decided about them.

    ``channel`` is where the command was typed (None in a direct message) and
    ``shared_channels`` the channels the member shares with the bot: both only say which round
    a command without a code means, never who may moderate it. With ``scope_by_rights``, a
    moderator command without a code means a round the actor moderates (on Discord: a round
    of the guild the command comes from), never anyone else's.
    """

    platform: str
    user_id: str
    moderates: ModeratesAny = _moderates_nothing
    channel: ChannelRef | None = None
    shared_channels: tuple[ChannelRef, ...] = ()
    scope_by_rights: bool = False


# ---------------------------------------------------------------------------------- members


@dataclass(frozen=True)
class PositionResult:
    round: OpenRound
    stance: str
    label: str
    number: int | None  # the argument's public number, when one was given
    voting: bool  # whether the round's debate votes on arguments
    text: str  # "stance recorded" (and "argument recorded")


@dataclass(frozen=True)
class ArgumentResult:
    round: OpenRound
    number: int
    text: str


@dataclass(frozen=True)
class ArgumentForm:
    """What a form asking for an argument needs: the round and the length allowed."""

    round: OpenRound
    max_chars: int


@dataclass(frozen=True)
class MineResult:
    round: OpenRound
    mine: MyPosition
    stances: tuple[tuple[str, str], ...]  # (stance id, label) of the round
    text: str


@dataclass(frozen=True)
class WithdrawResult:
    round: OpenRound
    removed: bool
    text: str


@dataclass(frozen=True)
class VotePrompt:
    """The next argument to vote on, or None when there is none left (``text`` says so)."""

    round_id: int
    argument: ArgumentToVote | None
    text: str  # as the text commands show it

    @property
    def argument_id(self) -> int | None:
        return None if self.argument is None else self.argument.argument_id


@dataclass(frozen=True)
class VoteResult:
    round_id: int
    argument_id: int
    next: VotePrompt


@dataclass(frozen=True)
class HelpResult:
    stances: tuple[str, ...]  # the stances of the rounds open where the actor is
    moderator: bool  # whether the actor moderates some channel of the bot
    where: str = ""  # those rounds, each code with its question and numbered stances


@dataclass(frozen=True)
class RoundLine:
    code: str
    question: str
    closes_at: datetime
    channels: tuple[ChannelRef, ...]  # the round's channels on the actor's platform


@dataclass(frozen=True)
class RoundsResult:
    rounds: tuple[RoundLine, ...]


@dataclass(frozen=True)
class Choice:
    """An autocomplete suggestion: what is shown and the value it stands for."""

    label: str
    value: str


# ---------------------------------------------------------------------------------- moderators


@dataclass(frozen=True)
class OpenResult:
    info: RoundInfo
    text: str


@dataclass(frozen=True)
class CloseResult:
    round: OpenRound
    text: str


@dataclass(frozen=True)
class ExtendResult:
    round: OpenRound
    closes_at: datetime
    text: str


@dataclass(frozen=True)
class ExportResult:
    info: RoundInfo
    format: str
    attachment: Attachment
    text: str


@dataclass(frozen=True)
class HideResult:
    round_id: int
    number: int
    hidden: bool
    text: str


@dataclass(frozen=True)
class ApproveResult:
    round_id: int
    number: int
    text: str


@dataclass(frozen=True)
class ModeratedArgument:
    number: int
    text: str
    hidden: bool
    pending: bool = False  # awaiting a moderator's approval (``moderation: pre``)
    carried_from: str | None = None  # the earlier round's code, for a carried-over argument


@dataclass(frozen=True)
class ModerationListResult:
    round: OpenRound
    arguments: tuple[ModeratedArgument, ...] = field(default=())
