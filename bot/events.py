"""Neutral message types exchanged between the core and the chat adapters.

Adapters translate platform events into :class:`Incoming` and render :class:`Reply` and
:class:`RoundPost` values; they never decide anything themselves. None of these values is ever
stored: the user id an :class:`Incoming` carries lives only as long as the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class ChannelRef:
    """A place the bot posts to: a console channel, a Discord channel id, a Matrix room id."""

    platform: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.channel}"


@dataclass(frozen=True)
class Incoming:
    """A text message addressed to the bot.

    ``channel`` is the public channel it was sent in, or ``None`` for a direct message.
    ``shared_channels`` lists the channels the sender shares with the bot (used to infer the
    round a direct message is about); adapters that cannot tell leave it empty.
    """

    platform: str
    user_id: str
    text: str
    channel: ChannelRef | None = None
    shared_channels: tuple[ChannelRef, ...] = ()

    @property
    def is_dm(self) -> bool:
        return self.channel is None


@dataclass(frozen=True)
class Attachment:
    """A file sent with a post (summary chart, export)."""

    filename: str
    data: bytes
    mime: str
    # What the file shows, in words (an image's alt text), for those who cannot see it.
    description: str = ""


class Visibility(StrEnum):
    """Who sees a reply: only its recipient (DM / ephemeral) or the channel it answers in."""

    PRIVATE = "private"
    CHANNEL = "channel"


@dataclass(frozen=True)
class Reply:
    """The bot's answer to one :class:`Incoming`.

    ``text`` is plain text with light Markdown (``**bold**``, ``*italic*``, lists). Any member
    text inside it has already been escaped by the core with :func:`bot.text.escape_markdown`;
    adapters that render HTML use ``html`` when given, else convert ``text``.
    """

    text: str
    visibility: Visibility = Visibility.PRIVATE
    attachments: tuple[Attachment, ...] = ()
    html: str | None = None


class PostKind(StrEnum):
    ANNOUNCEMENT = "announcement"
    REMINDER = "reminder"
    PROGRESS = "progress"
    CLOSED = "closed"
    SUMMARY = "summary"
    # New arguments for the debate's moderation channel (one shuffled batch), not a round post.
    MODERATION = "moderation"


@dataclass(frozen=True)
class PostKey:
    """The idempotency key of one post owed to one channel: one row of the outbox.

    Derived from that row and its round alone (round id and code, kind, outbox id; the row
    names the channel), never from a member, so a delivery retried after a crash carries the
    same key as the first attempt. Adapters send it where their platform de-duplicates (a
    Discord nonce, a Matrix transaction id) and look for it before posting again; the console
    prints it. ``retry`` says an earlier attempt began: it may have reached the channel.
    """

    outbox_id: int
    round_id: int
    round_code: str
    kind: PostKind
    channel: str  # "platform:channel", as in the outbox
    retry: bool = False

    @property
    def text(self) -> str:
        return f"{self.round_id}-{self.kind.value}-{self.outbox_id}-{self.round_code}"

    def part(self, index: int) -> str:
        """The key of one message of a post sent as several (chunks, embeds, files)."""
        return self.text if index == 0 else f"{self.text}.{index}"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RoundPost:
    """Something the core publishes to every channel of a round.

    Adapters may render the structured fields (buttons per stance, a Discord timestamp for
    ``closes_at``) or simply post ``text``/``html``, which are complete renderings in the
    configured language.
    """

    kind: PostKind
    round_id: int
    round_code: str
    debate_id: str
    debate_title: str
    question: str
    context: str
    source: str
    stances: tuple[tuple[str, str], ...]  # (stance id, localised label)
    opens_at: datetime
    closes_at: datetime
    text: str
    html: str
    participation: int | None = None
    attachments: tuple[Attachment, ...] = field(default=())
    statement_voting: bool = True
    argument_max_chars: int = 1000
    # Set by the outbox for each channel's delivery; None for posts made outside it.
    key: PostKey | None = None
