"""What every part of the engine shares: its refusal, the round types, and :class:`Core`.

:class:`Core` holds the configuration, the packs, the database and its group writer, the
open-round cache and the hooks the app gives; it answers what the config and packs say about
a debate, a question or a stance, and which open round a member means.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from bot import store
from bot.anonymity import pseudonym
from bot.config import Config, DebateConfig
from bot.db import Database
from bot.events import ChannelRef
from bot.i18n import Messages
from bot.leader import Fence, Leadership
from bot.packs import DEFAULT_STANCES, Pack, PackItem, source_line
from bot.store import RoundRow
from bot.summary.model import Summary
from bot.text import escape_markdown
from bot.writer import GroupWriter


def utcnow() -> datetime:
    return datetime.now(ZoneInfo("UTC")).replace(tzinfo=None)


class EngineError(Exception):
    """A refusal meant for the member: ``key`` is a message id, ``fields`` its values."""

    def __init__(self, key: str, **fields: Any) -> None:
        super().__init__(key)
        self.key = key
        self.fields = fields

    def render(self, messages: Messages) -> str:
        return messages(self.key, **self.fields)


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class EngineHooks:
    """What the engine tells the rest of the app (the app gives them at construction).

    ``on_outbox``: posts were queued in the outbox. ``on_schedule_change``: a round's times
    changed (one was created, opened, extended), so the scheduler's jobs are to be re-planned.
    """

    on_outbox: Callable[[], None] = _nothing
    on_schedule_change: Callable[[], None] = _nothing


@dataclass
class OpenRound:
    """What the engine keeps in memory about an open round (rebuilt from the DB at start)."""

    id: int
    code: str
    debate_id: str
    question_id: str
    salt: bytes
    closes_at: datetime
    channels: tuple[ChannelRef, ...]
    stances: tuple[str, ...]
    # argument id -> (public number, author pseudonym, hidden)
    arguments: dict[int, tuple[int, str, bool]] = field(default_factory=dict)
    # ids of the arguments held for a moderator's approval (``moderation: pre``)
    pending: set[int] = field(default_factory=set)

    def argument_by_number(self, number: int) -> int | None:
        for arg_id, (num, _, _) in self.arguments.items():
            if num == number and arg_id > 0:
                return arg_id
        return None

    def is_pending(self, number: int) -> bool:
        """Whether the argument shown as ``number`` awaits a moderator's approval."""
        return self.argument_by_number(number) in self.pending


@dataclass(frozen=True)
class RoundInfo:
    """A round as listed by ``rounds`` and shown to moderators."""

    id: int
    code: str
    debate_id: str
    question_id: str
    state: str
    opens_at: datetime
    closes_at: datetime
    participants: int
    channels: tuple[str, ...]
    texts: RoundTexts
    positions: int = 0
    voters: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "debate": self.debate_id,
            "question_id": self.question_id,
            "question": self.question,
            "state": self.state,
            "opens_at": self.opens_at.isoformat() + "Z",
            "closes_at": self.closes_at.isoformat() + "Z",
            "participants": self.participants,
            "positions": self.positions,
            "voters": self.voters,
            "channels": list(self.channels),
        }

    @property
    def question(self) -> str:
        return self.texts.question

    @property
    def channel_refs(self) -> tuple[ChannelRef, ...]:
        return tuple(channel_ref(c) for c in self.channels)


@dataclass(frozen=True)
class RoundTexts:
    """What a round asks, in the bot's language: recorded when the round is created (and
    when the config changes before it opens), so that its announcement, its summary and its
    exports read the same even if the debate is edited or removed in between."""

    title: str
    question: str
    context: str
    source: str
    stances: tuple[tuple[str, str], ...]  # (stance id, label)

    def to_columns(self) -> dict[str, str]:
        return {
            "title": self.title,
            "question": self.question,
            "context": self.context,
            "source": self.source,
            "stances": "\n".join(f"{s}\t{label}" for s, label in self.stances),
        }

    @classmethod
    def from_row(cls, row: Any) -> RoundTexts | None:
        """The texts stored with a round, or None for a round created before they were."""
        if not getattr(row, "title", ""):
            return None
        stances = tuple(
            (sid, label)
            for sid, _, label in (line.partition("\t") for line in row.stances.split("\n"))
            if sid
        )
        return cls(row.title, row.question, row.context, row.source, stances)


def channel_ref(text: str) -> ChannelRef:
    platform, _, channel = text.partition(":")
    return ChannelRef(platform, channel)


def fold(text: str) -> str:
    """Lowercase without accents, dashes as spaces: how people type a stance."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("-", " ").split())


# Set while a moderator's open or close runs. The schedule's transitions are the leader's
# alone (fenced by its lease epoch: a paused or deposed leader acting on what it planned
# must not). A moderator's command is a decision made now, wherever it arrives (with Discord
# shards, the process holding their server may be a follower); its conditional state change
# keeps it exactly-once, and the leader picks up what it changed at its next lease tick.
MODERATOR_ACTION: ContextVar[bool] = ContextVar("moderator_action", default=False)


@contextmanager
def moderator_action() -> Iterator[None]:
    token = MODERATOR_ACTION.set(True)
    try:
        yield
    finally:
        MODERATOR_ACTION.reset(token)


class Core:
    """The state the engine's parts share, and the lookups they all make."""

    def __init__(
        self,
        config: Config,
        db: Database,
        packs: dict[str, Pack],
        secret: bytes,
        clock: Callable[[], datetime],
        hooks: EngineHooks,
    ) -> None:
        self.config = config
        self.db = db
        self.packs = packs
        self.messages = Messages(config.language)
        self.secret = secret
        self.clock = clock
        self.hooks = hooks
        self.writer = GroupWriter(db)
        self.open: dict[int, OpenRound] = {}
        self.lock = asyncio.Lock()  # serialises lifecycle transitions in this process
        # The lease, when the app runs one (see bot.leader): transitions are fenced by it.
        self.leadership: Leadership | None = None

    # ------------------------------------------------------------------ leadership

    @property
    def leading(self) -> bool:
        """Whether this process may make transitions (always, without a lease)."""
        return self.leadership is None or self.leadership.leading

    def fence(self) -> Fence | None:
        """The fence a transition carries; None without a lease; refused on a follower,
        except for a moderator's command (:data:`MODERATOR_ACTION`)."""
        if self.leadership is None:
            return None
        fence = self.leadership.fence()
        if fence is None:
            if MODERATOR_ACTION.get():
                return None
            raise EngineError("not_leader")
        return fence

    # ------------------------------------------------------------------ config and packs

    def debate_or_none(self, debate_id: str) -> DebateConfig | None:
        try:
            return self.config.debate(debate_id)
        except KeyError:
            return None

    def debate(self, debate_id: str, shown: str) -> DebateConfig:
        """The debate, or ``unknown_debate`` naming ``shown`` (the id as the member typed it)."""
        debate = self.debate_or_none(debate_id)
        if debate is None:
            choices = ", ".join(d.id for d in self.config.debates) or "-"
            raise EngineError("unknown_debate", debate=shown, choices=choices)
        return debate

    def stances_for(self, debate: DebateConfig, question_id: str) -> list[str]:
        pack = self.packs.get(debate.pack)
        if pack is None:
            return list(debate.stances)
        try:
            return pack.stances_for(question_id, debate.stances)
        except KeyError:
            return list(debate.stances)

    def stance_label(self, debate_id: str, stance: str) -> str:
        """The stance's label in the bot's language: the pack's own, else the catalogue's."""
        debate = self.debate_or_none(debate_id)
        pack = self.packs.get(debate.pack) if debate else None
        label = pack.stance_label(stance, self.config.language) if pack else None
        return label or self.messages.stance_label(stance)

    def stance_names(self, debate_id: str, stance: str) -> tuple[str, ...]:
        """Every name a member may type for a stance: its id, its labels in both languages
        (the pack's, else the catalogue's) and the catalogue's aliases."""
        from bot.i18n import STANCE_ALIASES, STANCE_LABELS

        debate = self.debate_or_none(debate_id)
        pack = self.packs.get(debate.pack) if debate else None
        names = [stance]
        for lang, labels in STANCE_LABELS.items():
            names.append((pack.stance_label(stance, lang) if pack else None) or "")
            names.append(labels.get(stance, ""))
        names.extend(alias for alias, s in STANCE_ALIASES.items() if s == stance)
        return tuple(dict.fromkeys(n for n in names if n))

    def numbered_stances(self, r: OpenRound) -> str:
        """This round's stances as the numbered list members answer with (one a line)."""
        return "\n".join(
            f"`{n}` {self.stance_label(r.debate_id, s)} (`{s}`)"
            for n, s in enumerate(r.stances, start=1)
        )

    def question(self, debate_id: str, question_id: str) -> PackItem | None:
        debate = self.debate_or_none(debate_id)
        if debate is None or debate.pack not in self.packs:
            return None
        try:
            return self.packs[debate.pack].item(question_id)
        except KeyError:
            return None

    def question_text(self, debate_id: str, question_id: str) -> str:
        item = self.question(debate_id, question_id)
        return item.prompt.get(self.config.language) if item else question_id

    def live_texts(self, debate_id: str, question_id: str) -> RoundTexts:
        """A round's texts as the current config and packs give them (raw ids if unknown)."""
        debate = self.debate_or_none(debate_id)
        item = self.question(debate_id, question_id)
        pack = self.packs.get(debate.pack) if debate else None
        lang = self.config.language
        stances = self.stances_for(debate, question_id) if debate else list(DEFAULT_STANCES)
        return RoundTexts(
            title=debate.title if debate else debate_id,
            question=item.prompt.get(lang) if item else question_id,
            context=item.context.get(lang) if item else "",
            source=source_line(pack, lang) if pack else "",
            stances=tuple((s, self.stance_label(debate_id, s)) for s in stances),
        )

    def round_texts(self, row: RoundRow) -> RoundTexts:
        """The texts recorded with a round; the live ones for rounds from before that."""
        return RoundTexts.from_row(row) or self.live_texts(row.debate_id, row.question_id)

    def debate_channels(self, debate_id: str) -> tuple[ChannelRef, ...]:
        """The channels a debate is configured to post in (its moderators' places)."""
        debate = self.debate(debate_id, escape_markdown(debate_id[:40]))
        return tuple(ChannelRef(c.platform, c.key) for c in debate.channels)

    def moderated_channels(self) -> tuple[ChannelRef, ...]:
        """Every channel with moderators: the debates' and the open rounds' channels."""
        channels = [ChannelRef(c.platform, c.key) for d in self.config.debates for c in d.channels]
        channels.extend(c for r in self.open.values() for c in r.channels)
        return tuple(dict.fromkeys(channels))

    def argument_limit(self, debate_id: str) -> int:
        debate = self.debate_or_none(debate_id)
        return debate.argument_max_chars if debate else 1000

    def statement_voting(self, debate_id: str) -> bool:
        debate = self.debate_or_none(debate_id)
        return debate.statement_voting if debate else True

    # ------------------------------------------------------------------ rounds

    def open_round_from_row(self, row: RoundRow, salt: bytes) -> OpenRound:
        return OpenRound(
            id=row.id,
            code=row.code,
            debate_id=row.debate_id,
            question_id=row.question_id,
            salt=salt,
            closes_at=row.closes_at,
            channels=tuple(channel_ref(c) for c in row.channel_list),
            stances=tuple(s for s, _ in self.round_texts(row).stances),
        )

    def open_rounds(self) -> list[OpenRound]:
        return sorted(self.open.values(), key=lambda r: r.id)

    def require_open(self, round_id: int) -> OpenRound:
        r = self.open.get(round_id)
        if r is None:
            raise EngineError("round_closed")
        return r

    def pseudonym_for(self, round_id: int, platform: str, user_id: str) -> str | None:
        """The pseudonym of a user in an open round; ``None`` once the round is closed."""
        r = self.open.get(round_id)
        return None if r is None else pseudonym(self.secret, r.salt, platform, user_id)

    def resolve_round(
        self,
        code: str | None,
        channel: ChannelRef | None = None,
        shared_channels: Iterable[ChannelRef] = (),
        platform: str | None = None,
    ) -> OpenRound:
        """The open round a member means.

        With a code, that round. Otherwise the only open round posted in ``channel`` (a
        message in a room), or in the channels the member shares with the bot (a direct
        message), or on the member's platform; several candidates need a code.
        """
        if code is not None:
            for r in self.open.values():
                if r.code.upper() == code.upper():
                    return r
            raise EngineError("unknown_round", code=code)
        candidates = list(self.open.values())
        if not candidates:
            raise EngineError("no_open_round")
        scopes: list[set[ChannelRef]] = [{channel}] if channel is not None else []
        shared = set(shared_channels)
        if shared:
            scopes.append(shared)
        for scope in scopes:
            matching = [r for r in candidates if scope.intersection(r.channels)]
            if len(matching) == 1:
                return matching[0]
            if matching:
                candidates = matching
                break
        if platform is not None and len(candidates) > 1:
            on_platform = [
                r for r in candidates if any(c.platform == platform for c in r.channels)
            ]
            if on_platform:
                candidates = on_platform
        if len(candidates) == 1:
            return candidates[0]
        codes = "\n".join(
            f"`{r.code}` — {self.question_text(r.debate_id, r.question_id)}"
            for r in sorted(candidates, key=lambda r: r.code)
        )
        raise EngineError("ambiguous_round", codes=codes)

    def list_rounds_sync(
        self, conn: Connection, debate_id: str | None = None, round_id: int | None = None
    ) -> list[RoundInfo]:
        return [
            RoundInfo(
                id=x.round.id,
                code=x.round.code,
                debate_id=x.round.debate_id,
                question_id=x.round.question_id,
                texts=self.round_texts(x.round),
                state=x.round.state,
                opens_at=x.round.opens_at,
                closes_at=x.round.closes_at,
                participants=x.participants,
                positions=x.positions,
                voters=x.voters,
                channels=x.round.channel_list,
            )
            for x in store.list_rounds(conn, debate_id, round_id)
        ]

    async def round_info(self, round_id: int) -> RoundInfo | None:
        rounds = await self.db.read(lambda conn: self.list_rounds_sync(conn, round_id=round_id))
        return rounds[0] if rounds else None

    async def summary(self, round_id: int) -> Summary | None:
        return await self.db.read(lambda conn: store.load_summary(conn, round_id))
