"""The use-cases: open, close and extend rounds; submit, withdraw and vote; moderate; export.

Platform-neutral: callers pass a platform name and a user id, which are turned into a per-round
pseudonym at once and never stored or logged. Errors a member should hear about are raised as
:class:`EngineError` carrying a catalogue key (see :mod:`bot.i18n`); they change nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot import lifecycle
from bot.anonymity import new_round_code, new_salt, pseudonym
from bot.config import Config, DebateConfig, ManualSchedule
from bot.db import Database
from bot.erasure import rekey_round, scrub_storage
from bot.events import Attachment, ChannelRef, PostKind, RoundPost
from bot.i18n import Messages
from bot.lifecycle import Action, RoundTimes
from bot.models import RoundState, random_id, table
from bot.outage import Budget, checkpoint, guarded
from bot.packs import DEFAULT_STANCES, Pack, PackItem, source_line
from bot.summary import build_summary
from bot.summary.export import EXPORT_FORMATS, export_summary, render_summary_text
from bot.summary.model import RoundData, Summary
from bot.text import clean_member_text, escape_markdown
from bot.writer import GroupWriter, RoundNotOpen, StanceOp, VoteOp

log = logging.getLogger(__name__)

VOTE_VALUES = {"agree": 1, "disagree": -1, "pass": 0}


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

    def argument_by_number(self, number: int) -> int | None:
        for arg_id, (num, _, _) in self.arguments.items():
            if num == number and arg_id > 0:
                return arg_id
        return None


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
            "channels": list(self.channels),
        }

    @property
    def question(self) -> str:
        return self.texts.question

    @property
    def channel_refs(self) -> tuple[ChannelRef, ...]:
        return tuple(_channel_ref(c) for c in self.channels)


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


@dataclass(frozen=True)
class MyPosition:
    round_code: str
    stance: str | None
    arguments: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class ArgumentToVote:
    argument_id: int
    number: int
    text: str
    remaining: int


class RateLimiter:
    """At most ``limit`` actions per sliding minute per pseudonym (kept only in memory)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] > self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise EngineError("rate_limited")
        hits.append(now)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._hits.pop(key, None)


def _channel_ref(text: str) -> ChannelRef:
    platform, _, channel = text.partition(":")
    return ChannelRef(platform, channel)


class Engine:
    """All the use-cases; owns the open-round cache and the group writer."""

    def __init__(
        self,
        config: Config,
        db: Database,
        packs: dict[str, Pack],
        secret: bytes,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.db = db
        self.packs = packs
        self.messages = Messages(config.language)
        self._secret = secret
        self.clock = clock
        self.writer = GroupWriter(db)
        # How long members wait for the database before they are answered anyway.
        self.budget = Budget()
        self.limiter = RateLimiter(config.limits.actions_per_minute)
        self._open: dict[int, OpenRound] = {}
        self._lock = asyncio.Lock()  # serialises lifecycle transitions in this process
        self.on_outbox: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------ start / stop

    async def start(self) -> None:
        self.writer.start()
        # A crash between a close (or purge) and its scrub leaves old bytes behind: scrub now.
        await self.db.on_writer(lambda: scrub_storage(self.db.engine))
        await self._load_open_rounds()

    async def stop(self) -> None:
        await self.writer.stop()

    async def _load_open_rounds(self) -> None:
        def load(conn: Connection) -> list[OpenRound]:
            r, a, salts = table("round"), table("argument"), table("round_salt")
            rows = conn.execute(
                sa.select(r, salts.c.salt)
                .select_from(r.join(salts, salts.c.round_id == r.c.id))
                .where(r.c.state == RoundState.OPEN.value)
            ).all()
            out = []
            for row in rows:
                opened = self._open_round_from_row(row, row.salt)
                for arg in conn.execute(sa.select(a).where(a.c.round_id == row.id)):
                    opened.arguments[arg.id] = (arg.number, arg.author, arg.hidden)
                out.append(opened)
            return out

        self._open = {r.id: r for r in await self.db.read(load)}

    def _open_round_from_row(self, row: Any, salt: bytes) -> OpenRound:
        stances = tuple(s for s, _ in self.round_texts(row).stances)
        return OpenRound(
            id=row.id,
            code=row.code,
            debate_id=row.debate_id,
            question_id=row.question_id,
            salt=salt,
            closes_at=row.closes_at,
            channels=tuple(_channel_ref(c) for c in row.channels.split("\n") if c),
            stances=stances,
        )

    # ------------------------------------------------------------------ lookups

    def _debate_or_none(self, debate_id: str) -> DebateConfig | None:
        try:
            return self.config.debate(debate_id)
        except KeyError:
            return None

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
        debate = self._debate_or_none(debate_id)
        pack = self.packs.get(debate.pack) if debate else None
        label = pack.stance_label(stance, self.config.language) if pack else None
        return label or self.messages.stance_label(stance)

    def question(self, debate_id: str, question_id: str) -> PackItem | None:
        debate = self._debate_or_none(debate_id)
        if debate is None or debate.pack not in self.packs:
            return None
        try:
            return self.packs[debate.pack].item(question_id)
        except KeyError:
            return None

    def live_texts(self, debate_id: str, question_id: str) -> RoundTexts:
        """A round's texts as the current config and packs give them (raw ids if unknown)."""
        debate = self._debate_or_none(debate_id)
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

    def round_texts(self, row: Any) -> RoundTexts:
        """The texts recorded with a round; the live ones for rounds from before that."""
        return RoundTexts.from_row(row) or self.live_texts(row.debate_id, row.question_id)

    def question_text(self, debate_id: str, question_id: str) -> str:
        item = self.question(debate_id, question_id)
        return item.prompt.get(self.config.language) if item else question_id

    def debate_channels(self, debate_id: str) -> tuple[ChannelRef, ...]:
        """The channels a debate is configured to post in (its moderators' places)."""
        debate = self._debate_or_none(debate_id)
        if debate is None:
            choices = ", ".join(d.id for d in self.config.debates) or "-"
            raise EngineError(
                "unknown_debate", debate=escape_markdown(debate_id[:40]), choices=choices
            )
        return tuple(ChannelRef(c.platform, c.key) for c in debate.channels)

    def moderated_channels(self) -> tuple[ChannelRef, ...]:
        """Every channel with moderators: the debates' and the open rounds' channels."""
        channels = [ChannelRef(c.platform, c.key) for d in self.config.debates for c in d.channels]
        channels.extend(c for r in self._open.values() for c in r.channels)
        return tuple(dict.fromkeys(channels))

    def open_rounds(self) -> list[OpenRound]:
        return sorted(self._open.values(), key=lambda r: r.id)

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
            for r in self._open.values():
                if r.code.upper() == code.upper():
                    return r
            raise EngineError("unknown_round", code=code)
        candidates = list(self._open.values())
        if not candidates:
            raise EngineError("no_open_round")
        scopes: list[set[ChannelRef]] = []
        if channel is not None:
            scopes.append({channel})
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
        codes = ", ".join(sorted(r.code for r in candidates))
        raise EngineError("ambiguous_round", codes=codes)

    def open_round_by_id(self, round_id: int) -> OpenRound | None:
        """The open round with this id, or None once it is closed (or never opened)."""
        return self._open.get(round_id)

    def _require_open(self, round_id: int) -> OpenRound:
        r = self._open.get(round_id)
        if r is None:
            raise EngineError("round_closed")
        return r

    def _participant(self, r: OpenRound, platform: str, user_id: str) -> str:
        name = pseudonym(self._secret, r.salt, platform, user_id)
        self.limiter.check(name)
        return name

    def pseudonym_for(self, round_id: int, platform: str, user_id: str) -> str | None:
        """The pseudonym of a user in an open round; ``None`` once the round is closed."""
        r = self._open.get(round_id)
        return None if r is None else pseudonym(self._secret, r.salt, platform, user_id)

    # ------------------------------------------------------------------ members

    def parse_stance(self, r: OpenRound, word: str) -> str:
        from bot.i18n import STANCE_ALIASES

        lowered = word.strip().lower()
        stance = STANCE_ALIASES.get(lowered, lowered)
        if stance not in r.stances:
            # Members may also type a stance's label, with or without accents ("États").
            wanted = _fold(word)
            for candidate in r.stances:
                if wanted in (_fold(candidate), _fold(self.stance_label(r.debate_id, candidate))):
                    stance = candidate
                    break
        if stance not in r.stances:
            raise EngineError(
                "unknown_stance",
                stance=escape_markdown(word[:40]),
                choices=self.messages.stance_choices(r.stances),
            )
        return stance

    def clean_argument(self, r: OpenRound, text: str) -> str:
        cleaned = clean_member_text(text)
        if not cleaned:
            raise EngineError("argument_empty")
        limit = self._argument_limit(r)
        if len(cleaned) > limit:
            raise EngineError("argument_too_long", length=len(cleaned), max=limit)
        return cleaned

    def _argument_limit(self, r: OpenRound) -> int:
        debate = self._debate_or_none(r.debate_id)
        return debate.argument_max_chars if debate else 1000

    @guarded("write")
    async def submit_position(
        self,
        round_id: int,
        platform: str,
        user_id: str,
        stance_word: str,
        argument: str | None = None,
    ) -> tuple[str, int | None]:
        """Record (or change) a stance, and add an argument if given.

        Everything is validated before anything is written, and a stance with its argument is
        one transaction: both are recorded or neither (a refused argument leaves the stance as
        it was). Returns the stance id and the argument's public number.
        """
        r = self._require_open(round_id)
        stance = self.parse_stance(r, stance_word)
        cleaned = self.clean_argument(r, argument) if argument and argument.strip() else None
        participant = self._participant(r, platform, user_id)
        if cleaned is None:
            try:
                await self.writer.submit(StanceOp(r.id, participant, stance))
            except RoundNotOpen:
                raise EngineError("round_closed") from None
            return stance, None
        number = await self._insert_argument(r, participant, cleaned, stance=stance)
        return stance, number

    @guarded("write")
    async def add_argument(self, round_id: int, platform: str, user_id: str, text: str) -> int:
        r = self._require_open(round_id)
        cleaned = self.clean_argument(r, text)
        participant = self._participant(r, platform, user_id)
        return await self._insert_argument(r, participant, cleaned)

    async def _insert_argument(
        self, r: OpenRound, participant: str, text: str, *, stance: str | None = None
    ) -> int:
        """Store an argument (and the stance given with it) in one transaction.

        Sending the same argument again (a member re-sending a message that got no answer,
        say after a crash) stores nothing new and answers with the number it already has. The
        quota is checked here, inside the write, where one member's concurrent submissions
        are serialised.
        """
        taken = {num for num, _, _ in r.arguments.values()}
        number = _random_number(taken)

        limit = self.config.limits.arguments_per_participant

        def insert(conn: Connection) -> tuple[int, int, bool]:
            # Raising rolls this write's savepoint back: a refused argument leaves no stance.
            a, p = table("argument"), table("position")
            if stance is not None:
                changed = conn.execute(
                    sa.update(p)
                    .where(p.c.round_id == r.id, p.c.participant == participant)
                    .values(stance=stance)
                ).rowcount
                if not changed:
                    conn.execute(
                        sa.insert(p).values(
                            id=random_id(), round_id=r.id, participant=participant, stance=stance
                        )
                    )
            mine = conn.execute(
                sa.select(a.c.id, a.c.number, a.c.text).where(
                    a.c.round_id == r.id, a.c.author == participant
                )
            ).all()
            for row in mine:
                if row.text == text:
                    return int(row.id), int(row.number), False
            # The quota is checked inside the write: concurrent submissions of one member
            # are serialised here, so they cannot all pass a check made before waiting.
            if len(mine) >= limit:
                raise EngineError("too_many_arguments", max=limit)
            arg_id = random_id()
            conn.execute(
                sa.insert(a).values(
                    id=arg_id,
                    round_id=r.id,
                    author=participant,
                    number=number,
                    text=text,
                    hidden=False,
                )
            )
            return arg_id, number, True

        # Reserve the number now so a concurrent insert cannot pick it too.
        r.arguments[-number] = (number, participant, True)
        try:
            result = await self.writer.call(insert, round_id=r.id)
        except RoundNotOpen:
            raise EngineError("round_closed") from None
        finally:
            r.arguments.pop(-number, None)
        if isinstance(result, BaseException):
            raise result
        arg_id, stored_number, created = result
        if created:
            r.arguments[arg_id] = (stored_number, participant, False)
        return stored_number

    @guarded("write")
    async def withdraw(self, round_id: int, platform: str, user_id: str) -> bool:
        """Remove the member's stance, arguments and votes. False if there was nothing."""
        r = self._require_open(round_id)
        participant = self._participant(r, platform, user_id)

        def delete(conn: Connection) -> int:
            p, a, v = table("position"), table("argument"), table("vote")
            own = sa.select(a.c.id).where(a.c.round_id == r.id, a.c.author == participant)
            n = conn.execute(
                sa.delete(v).where(
                    v.c.round_id == r.id,
                    sa.or_(v.c.voter == participant, v.c.argument_id.in_(own)),
                )
            ).rowcount
            n += conn.execute(
                sa.delete(a).where(a.c.round_id == r.id, a.c.author == participant)
            ).rowcount
            n += conn.execute(
                sa.delete(p).where(p.c.round_id == r.id, p.c.participant == participant)
            ).rowcount
            return int(n)

        try:
            removed = await self.writer.call(delete, round_id=r.id)
        except RoundNotOpen:
            raise EngineError("round_closed") from None
        if isinstance(removed, BaseException):
            raise removed
        for arg_id in [k for k, (_, author, _) in r.arguments.items() if author == participant]:
            del r.arguments[arg_id]
        return removed > 0

    @guarded("read")
    async def my_position(self, round_id: int, platform: str, user_id: str) -> MyPosition:
        r = self._require_open(round_id)
        participant = self._participant(r, platform, user_id)

        def read(conn: Connection) -> tuple[str | None, list[tuple[int, str]]]:
            p, a = table("position"), table("argument")
            stance = conn.execute(
                sa.select(p.c.stance).where(p.c.round_id == r.id, p.c.participant == participant)
            ).scalar()
            args = conn.execute(
                sa.select(a.c.number, a.c.text)
                .where(a.c.round_id == r.id, a.c.author == participant)
                .order_by(a.c.number)
            ).all()
            return stance, [(int(n), str(t)) for n, t in args]

        stance, args = await self.db.read(read)
        return MyPosition(r.code, stance, tuple(args))

    def describe_position(
        self, r: OpenRound, mine: MyPosition, escape: Callable[[str], str] = escape_markdown
    ) -> str:
        """A member's own stance and arguments, as shown to them (member text escaped)."""
        if mine.stance is None:
            lines = [self.messages("my_position_none", code=r.code)]
        else:
            label = self.stance_label(r.debate_id, mine.stance)
            lines = [self.messages("my_position", code=r.code, stance=label)]
        if mine.arguments:
            lines.append(self.messages("my_arguments"))
            lines.extend(f"• {n} — {escape(t)}" for n, t in mine.arguments)
        return "\n".join(lines)

    @guarded("read")
    async def next_argument(
        self, round_id: int, platform: str, user_id: str
    ) -> ArgumentToVote | None:
        """A random visible argument the member has not voted on and did not write."""
        r = self._require_open(round_id)
        self._require_voting(r)
        participant = self._participant(r, platform, user_id)

        def read(conn: Connection) -> set[int]:
            v = table("vote")
            rows = conn.execute(
                sa.select(v.c.argument_id).where(v.c.round_id == r.id, v.c.voter == participant)
            )
            return set(rows.scalars())

        voted = await self.db.read(read)
        choices = [
            arg_id
            for arg_id, (_, author, hidden) in r.arguments.items()
            if arg_id > 0 and not hidden and author != participant and arg_id not in voted
        ]
        if not choices:
            return None
        arg_id = secrets.choice(choices)
        number = r.arguments[arg_id][0]

        def text(conn: Connection) -> str:
            a = table("argument")
            return str(conn.execute(sa.select(a.c.text).where(a.c.id == arg_id)).scalar_one())

        return ArgumentToVote(arg_id, number, await self.db.read(text), len(choices))

    def _require_voting(self, r: OpenRound) -> None:
        debate = self._debate_or_none(r.debate_id)
        if debate is not None and not debate.statement_voting:
            raise EngineError("voting_disabled")

    @guarded("write")
    async def vote(
        self, round_id: int, platform: str, user_id: str, argument_id: int, value: int
    ) -> None:
        if value not in (-1, 0, 1):
            raise ValueError("a vote is -1, 0 or 1")
        r = self._require_open(round_id)
        self._require_voting(r)
        participant = self._participant(r, platform, user_id)
        info = r.arguments.get(argument_id)
        if info is None or info[2] or argument_id < 0:
            number = info[0] if info is not None else "?"
            raise EngineError("unknown_argument", number=number, code=r.code)
        if info[1] == participant:
            raise EngineError("vote_own")
        try:
            await self.writer.submit(VoteOp(r.id, argument_id, participant, value))
        except RoundNotOpen:
            raise EngineError("round_closed") from None

    def argument_id(self, round_id: int, number: int) -> int:
        r = self._require_open(round_id)
        arg_id = r.argument_by_number(number)
        if arg_id is None:
            raise EngineError("unknown_argument", number=number, code=r.code)
        return arg_id

    # ------------------------------------------------------------------ moderators

    @guarded("read")
    async def list_arguments(self, round_id: int) -> list[tuple[int, str, bool]]:
        """(number, text, hidden) of every argument of an open round, for moderators."""
        r = self._require_open(round_id)

        def read(conn: Connection) -> list[tuple[int, str, bool]]:
            a = table("argument")
            rows = conn.execute(
                sa.select(a.c.number, a.c.text, a.c.hidden)
                .where(a.c.round_id == r.id)
                .order_by(a.c.number)
            )
            return [(int(n), str(t), bool(h)) for n, t, h in rows]

        return await self.db.read(read)

    @guarded("write")
    async def set_hidden(self, round_id: int, number: int, hidden: bool) -> None:
        r = self._require_open(round_id)
        arg_id = r.argument_by_number(number)
        if arg_id is None:
            raise EngineError("unknown_argument", number=number, code=r.code)

        def update(conn: Connection) -> None:
            a = table("argument")
            conn.execute(sa.update(a).where(a.c.id == arg_id).values(hidden=hidden))

        await self.writer.call(update, round_id=r.id)
        num, author, _ = r.arguments[arg_id]
        r.arguments[arg_id] = (num, author, hidden)

    @guarded("write")
    async def open_round(self, debate_id: str, *, opened_by: str = "moderator") -> RoundInfo:
        """Create and open a round of ``debate_id`` now."""
        debate = self._debate_or_none(debate_id)
        if debate is None:
            choices = ", ".join(d.id for d in self.config.debates) or "-"
            raise EngineError("unknown_debate", debate=escape_markdown(debate_id), choices=choices)
        now = self.clock()
        round_id = await self._create_round(debate, now, opened_by=opened_by)
        # The round exists from here on (the next tick opens it if this call fails).
        checkpoint()
        await self.apply(round_id, Action.OPEN)
        info = await self.round_info(round_id)
        assert info is not None
        return info

    async def _create_round(self, debate: DebateConfig, opens_at: datetime, opened_by: str) -> int:
        question_id, seq = await self.db.read(lambda conn: self._pick_question(conn, debate))
        terms = self._terms(debate, opens_at)
        texts = self.live_texts(debate.id, question_id)

        def insert(conn: Connection) -> int:
            r = table("round")
            for _ in range(10):
                code = new_round_code()
                exists = conn.execute(sa.select(r.c.id).where(r.c.code == code)).first()
                if exists is None:
                    break
            result = conn.execute(
                sa.insert(r).values(
                    debate_id=debate.id,
                    seq=seq,
                    question_id=question_id,
                    code=code,
                    state=RoundState.SCHEDULED.value,
                    reminder_sent=False,
                    opened_by=opened_by,
                    progress_posted=0,
                    **terms,
                    **texts.to_columns(),
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            return int(pk[0])

        round_id: int = await self.db.write(insert)
        log.info("round %s of debate %s scheduled for %s", round_id, debate.id, opens_at)
        return round_id

    def _terms(self, debate: DebateConfig, opens_at: datetime) -> dict[str, Any]:
        """A round's times and channels, as the debate's config gives them for this opening."""
        closes_at = opens_at + debate.round_duration
        reminder_at = (
            closes_at - debate.reminder_before_close if debate.reminder_before_close else None
        )
        channels = "\n".join(
            f"{c.platform}:{c.key}"
            for c in debate.channels
            if c.platform in self.config.platforms.enabled()
        )
        return {
            "opens_at": opens_at,
            "closes_at": closes_at,
            "reminder_at": reminder_at,
            "channels": channels,
        }

    async def apply_config(self, config: Config) -> list[str]:
        """Take a new configuration (a reload) and reconcile the rounds not yet open with it."""
        self.config = config
        self.messages = Messages(config.language)
        self.limiter.limit = config.limits.actions_per_minute
        changes = await self.reconcile_config()
        await self.ensure_scheduled()
        self.on_schedule_change()
        return changes

    async def reconcile_config(self) -> list[str]:
        """Bring the rounds not yet open in line with the config; one log line per change.

        A round of a debate removed from the config (or made manual) is cancelled; a round
        whose opening no longer fits the debate's schedule moves to the schedule's next
        opening; its duration, reminder, channels and texts follow the config. Open rounds
        keep their terms: moderators extend or close them.
        """
        now = self.clock()

        def read(conn: Connection) -> tuple[list[Any], dict[str, datetime]]:
            r = table("round")
            pending = list(
                conn.execute(sa.select(r).where(r.c.state == RoundState.SCHEDULED.value))
            )
            last: dict[str, datetime] = {}
            done = conn.execute(
                sa.select(r.c.debate_id, sa.func.max(r.c.opens_at))
                .where(r.c.opened_by == "schedule", r.c.state != RoundState.SCHEDULED.value)
                .group_by(r.c.debate_id)
            )
            for debate_id, opened in done:
                last[str(debate_id)] = opened
            return pending, last

        pending, last = await self.db.read(read)
        changes: list[str] = []
        for row in pending:
            debate = self._debate_or_none(row.debate_id)
            why = None
            if debate is None:
                why = "its debate is no longer in the config"
            elif isinstance(debate.schedule, ManualSchedule):
                why = "its debate is now opened by moderators only"
            elif debate.pack not in self.packs:
                why = f"pack {debate.pack} is missing"
            if why is not None or debate is None:
                if await self._transition(row.id, RoundState.SCHEDULED, RoundState.SKIPPED):
                    changes.append(f"round {row.id} ({row.debate_id}) cancelled: {why}")
                continue
            opens_at = row.opens_at
            previous = last.get(debate.id)
            if not lifecycle.is_opening(debate.schedule, opens_at, self.config.tz, previous):
                after = max(now, previous) if previous else now
                moved = lifecycle.next_opening(debate.schedule, after, self.config.tz, previous)
                if moved is None:
                    if await self._transition(row.id, RoundState.SCHEDULED, RoundState.SKIPPED):
                        changes.append(
                            f"round {row.id} ({debate.id}) cancelled: its schedule has no "
                            "opening left"
                        )
                    continue
                opens_at = moved
            question_id = row.question_id
            if self.question(debate.id, question_id) is None:  # gone from the pack
                question_id, _ = await self.db.read(partial(self._pick_question, debate=debate))
            wanted = {
                **self._terms(debate, opens_at),
                "question_id": question_id,
                **self.live_texts(debate.id, question_id).to_columns(),
            }
            differs = {k: (getattr(row, k), v) for k, v in wanted.items() if getattr(row, k) != v}
            if not differs:
                continue

            def update(
                conn: Connection, rid: int = row.id, values: dict[str, Any] = wanted
            ) -> bool:
                r = table("round")
                res = conn.execute(
                    sa.update(r)
                    .where(r.c.id == rid, r.c.state == RoundState.SCHEDULED.value)
                    .values(**values)
                )
                return bool(res.rowcount == 1)

            if await self.writer.call(update):
                changes.append(f"round {row.id} ({debate.id}) updated: {_describe(differs)}")
        for change in changes:
            log.info("config: %s", change)
        return changes

    def _pick_question(self, conn: Connection, debate: DebateConfig) -> tuple[str, int]:
        pack = self.packs[debate.pack]
        pool = list(debate.questions) or pack.item_ids()
        r = table("round")
        used = [
            row.question_id
            for row in conn.execute(
                sa.select(r.c.question_id, r.c.seq)
                .where(r.c.debate_id == debate.id, r.c.state != RoundState.SKIPPED.value)
                .order_by(r.c.seq)
            )
        ]
        seq = (
            conn.execute(
                sa.select(sa.func.max(r.c.seq)).where(r.c.debate_id == debate.id)
            ).scalar()
            or 0
        ) + 1
        cycle_used = used[len(used) - len(used) % len(pool) :] if pool else []
        remaining = [q for q in pool if q not in cycle_used] or pool
        if debate.order == "sequential":
            return remaining[0], seq
        return random.SystemRandom().choice(remaining), seq

    @guarded("write")
    async def extend_round(self, round_id: int, delta: timedelta) -> datetime:
        r = self._require_open(round_id)
        new_close = r.closes_at + delta

        def update(conn: Connection) -> None:
            rt = table("round")
            row = conn.execute(
                sa.select(rt.c.reminder_at, rt.c.closes_at).where(rt.c.id == r.id)
            ).one()
            values: dict[str, Any] = {"closes_at": new_close}
            if row.reminder_at is not None:
                values["reminder_at"] = row.reminder_at + delta
                values["reminder_sent"] = False
            conn.execute(sa.update(rt).where(rt.c.id == r.id).values(**values))

        await self.writer.call(update, round_id=r.id)
        r.closes_at = new_close
        self.on_schedule_change()
        return new_close

    def on_schedule_change(self) -> None:
        """Hook for the scheduler to re-plan its jobs (set by the app)."""

    @guarded("write")
    async def close_round(self, round_id: int) -> bool:
        return await self.apply(round_id, Action.CLOSE)

    # ------------------------------------------------------------------ lifecycle

    async def apply(self, round_id: int, action: Action) -> bool:
        """Apply one transition; False if another caller already did (or it no longer applies)."""
        async with self._lock:
            if action == Action.OPEN:
                return await self._do_open(round_id)
            if action == Action.SKIP:
                return await self._transition(round_id, RoundState.SCHEDULED, RoundState.SKIPPED)
            if action == Action.CLOSE:
                return await self._do_close(round_id)
            if action == Action.SUMMARISE:
                return await self._do_summarise(round_id)
            if action == Action.REMIND:
                return await self._do_remind(round_id)
        return False

    async def _transition(self, round_id: int, source: RoundState, target: RoundState) -> bool:
        assert lifecycle.can_transition(source, target)

        def update(conn: Connection) -> bool:
            r = table("round")
            res = conn.execute(
                sa.update(r)
                .where(r.c.id == round_id, r.c.state == source.value)
                .values(state=target.value)
            )
            return bool(res.rowcount == 1)

        done: bool = await self.writer.call(update)
        if done:
            log.info("round %s: %s -> %s", round_id, source, target)
        return done

    def _enqueue_posts(self, conn: Connection, round_id: int, kind: PostKind) -> None:
        r, o = table("round"), table("outbox")
        channels = conn.execute(sa.select(r.c.channels).where(r.c.id == round_id)).scalar_one()
        rows = [
            {
                "round_id": round_id,
                "kind": kind.value,
                "channel": c,
                "delivered": False,
                "attempts": 0,
                "created_at": self.clock(),
            }
            for c in channels.split("\n")
            if c
        ]
        if rows:
            conn.execute(sa.insert(o), rows)

    async def _do_open(self, round_id: int) -> bool:
        salt = new_salt()

        def update(conn: Connection) -> Any:
            r = table("round")
            res = conn.execute(
                sa.update(r)
                .where(r.c.id == round_id, r.c.state == RoundState.SCHEDULED.value)
                .values(state=RoundState.OPEN.value)
            )
            if res.rowcount != 1:
                return None
            conn.execute(sa.insert(table("round_salt")).values(round_id=round_id, salt=salt))
            self._enqueue_posts(conn, round_id, PostKind.ANNOUNCEMENT)
            return conn.execute(sa.select(r).where(r.c.id == round_id)).one()

        row = await self.writer.call(update)
        if row is None:
            return False
        self._open[round_id] = self._open_round_from_row(row, salt)
        log.info("round %s opened", round_id)
        self.on_outbox()
        self.on_schedule_change()
        return True

    async def _do_close(self, round_id: int) -> bool:
        # Refuse new submissions at once; those already queued are committed first (FIFO).
        closing = self._open.pop(round_id, None)

        now = self.clock()

        def update(conn: Connection) -> bool:
            r, salts = table("round"), table("round_salt")
            # An early close records when the round really ended (exports, purge use it).
            closes_at = sa.case((r.c.closes_at > now, now), else_=r.c.closes_at)
            res = conn.execute(
                sa.update(r)
                .where(r.c.id == round_id, r.c.state == RoundState.OPEN.value)
                .values(state=RoundState.CLOSED.value, closes_at=closes_at)
            )
            if res.rowcount != 1:
                return False
            conn.execute(sa.delete(salts).where(salts.c.round_id == round_id))
            # Pseudonyms become random tokens: a salt recovered later matches nothing.
            rekey_round(conn, round_id, rename=True)
            return True

        try:
            done: bool = await self.writer.call(update, ends_rounds=True)
        except Exception:
            if closing is not None:
                self._open[round_id] = closing  # still open in the database: keep serving it
            raise
        if closing is not None:
            self.limiter.forget(author for _, author, _ in closing.arguments.values())
        if done:
            checkpoint()  # the round is closed from here on, whatever fails next
            # The close is acknowledged only once the old bytes have left the files.
            await self.db.on_writer(lambda: scrub_storage(self.db.engine))
            log.info("round %s closed; its salt is erased and its pseudonyms re-keyed", round_id)
            await self._do_summarise(round_id)
        return done

    async def _do_summarise(self, round_id: int) -> bool:
        data = await self.db.read(lambda conn: self._collect(conn, round_id))
        if data is None:
            return False
        summary = await asyncio.to_thread(build_summary, data)
        payload = json.dumps(summary, ensure_ascii=False, sort_keys=True)

        def store(conn: Connection) -> bool:
            r, s = table("round"), table("round_summary")
            res = conn.execute(
                sa.update(r)
                .where(r.c.id == round_id, r.c.state == RoundState.CLOSED.value)
                .values(state=RoundState.SUMMARISED.value)
            )
            if res.rowcount != 1:
                return False
            conn.execute(sa.insert(s).values(round_id=round_id, data=payload))
            self._enqueue_posts(conn, round_id, PostKind.SUMMARY)
            return True

        done: bool = await self.writer.call(store)
        if done:
            log.info("round %s summarised", round_id)
            self.on_outbox()
        return done

    def _collect(self, conn: Connection, round_id: int) -> RoundData | None:
        """Everything a summary rests on (no pseudonym leaves this function)."""
        r, p, a, v = table("round"), table("position"), table("argument"), table("vote")
        row = conn.execute(sa.select(r).where(r.c.id == round_id)).one_or_none()
        if row is None or row.state != RoundState.CLOSED.value:
            return None
        positions = {
            x.participant: x.stance
            for x in conn.execute(sa.select(p).where(p.c.round_id == round_id))
        }
        arguments = conn.execute(sa.select(a).where(a.c.round_id == round_id)).all()
        votes = conn.execute(
            sa.select(v.c.argument_id, v.c.voter, v.c.value).where(v.c.round_id == round_id)
        ).all()
        texts = self.round_texts(row)
        lang = self.config.language
        # Pseudonyms are replaced by opaque per-summary indexes before the data leaves here.
        aliases: dict[str, str] = {}
        for name in list(positions) + [x.author for x in arguments] + [x.voter for x in votes]:
            aliases.setdefault(name, f"p{len(aliases)}")
        return {
            "round": {
                "id": row.id,
                "code": row.code,
                "debate_id": row.debate_id,
                "debate_title": texts.title,
                "question_id": row.question_id,
                "question": texts.question,
                "context": texts.context,
                "source": texts.source,
                "opens_at": row.opens_at.isoformat() + "Z",
                "closes_at": row.closes_at.isoformat() + "Z",
            },
            "language": lang,
            "stances": [s for s, _ in texts.stances],
            "stance_labels": dict(texts.stances),
            "min_group_size": self.config.anonymity.min_group_size,
            "positions": {aliases[k]: s for k, s in positions.items()},
            "arguments": [
                {
                    "id": x.id,
                    "number": x.number,
                    "text": x.text,
                    "author": aliases[x.author],
                    "hidden": bool(x.hidden),
                }
                for x in arguments
            ],
            "votes": [[x.argument_id, aliases[x.voter], int(x.value)] for x in votes],
            "seed": row.id,
        }

    async def _do_remind(self, round_id: int) -> bool:
        def update(conn: Connection) -> bool:
            r = table("round")
            res = conn.execute(
                sa.update(r)
                .where(
                    r.c.id == round_id,
                    r.c.state == RoundState.OPEN.value,
                    r.c.reminder_sent.is_(False),
                )
                .values(reminder_sent=True)
            )
            if res.rowcount != 1:
                return False
            self._enqueue_posts(conn, round_id, PostKind.REMINDER)
            return True

        done: bool = await self.writer.call(update)
        if done:
            self.on_outbox()
        return done

    async def post_progress(self) -> None:
        """Queue a PROGRESS post for open rounds whose participation changed (once a minute)."""
        for r in list(self._open.values()):
            count = await self.participation(r.id)

            def update(conn: Connection, rid: int = r.id, n: int = count) -> bool:
                rt = table("round")
                res = conn.execute(
                    sa.update(rt)
                    .where(rt.c.id == rid, rt.c.progress_posted != n)
                    .values(progress_posted=n)
                )
                if res.rowcount != 1:
                    return False
                self._enqueue_posts(conn, rid, PostKind.PROGRESS)
                return True

            try:
                if await self.writer.call(update, round_id=r.id):
                    self.on_outbox()
            except RoundNotOpen:
                continue

    async def due_rounds(self) -> list[RoundTimes]:
        def read(conn: Connection) -> list[RoundTimes]:
            r = table("round")
            active = (RoundState.SCHEDULED.value, RoundState.OPEN.value, RoundState.CLOSED.value)
            rows = conn.execute(sa.select(r).where(r.c.state.in_(active))).all()
            return [
                RoundTimes(
                    id=x.id,
                    state=RoundState(x.state),
                    opens_at=x.opens_at,
                    closes_at=x.closes_at,
                    reminder_at=x.reminder_at,
                    reminder_sent=bool(x.reminder_sent),
                )
                for x in rows
            ]

        return await self.db.read(read)

    async def reconcile(self) -> list[tuple[int, Action]]:
        """Apply every transition due now: the database is the source of truth for timing."""
        now = self.clock()
        applied = []
        for times in await self.due_rounds():
            action = lifecycle.due_action(times, now, self.config.late_open_grace)
            if action is None:
                continue
            if action == Action.SKIP:
                log.warning(
                    "round %s missed its opening at %s (grace %s): skipped",
                    times.id,
                    times.opens_at,
                    self.config.late_open_grace,
                )
            if await self.apply(times.id, action):
                applied.append((times.id, action))
        await self.ensure_scheduled()
        return applied

    async def ensure_scheduled(self) -> list[int]:
        """Make sure each scheduled debate has its next round in the database."""
        created = []
        now = self.clock()
        for debate in self.config.debates:
            if isinstance(debate.schedule, ManualSchedule) or debate.pack not in self.packs:
                continue

            def read(conn: Connection, debate_id: str = debate.id) -> tuple[bool, datetime | None]:
                r = table("round")
                pending = conn.execute(
                    sa.select(r.c.id).where(
                        r.c.debate_id == debate_id,
                        r.c.state == RoundState.SCHEDULED.value,
                        r.c.opened_by == "schedule",
                    )
                ).first()
                last = conn.execute(
                    sa.select(sa.func.max(r.c.opens_at)).where(
                        r.c.debate_id == debate_id, r.c.opened_by == "schedule"
                    )
                ).scalar()
                return pending is not None, last

            has_pending, last = await self.db.read(read)
            if has_pending:
                continue
            after = max(now, last) if last else now
            opening = lifecycle.next_opening(debate.schedule, after, self.config.tz, last)
            if opening is None:
                continue
            created.append(await self._create_round(debate, opening, opened_by="schedule"))
        if created:
            self.on_schedule_change()
        return created

    async def purge(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        """Delete summarised or skipped rounds closed more than ``older_than`` ago."""
        cutoff = self.clock() - older_than

        def purge(conn: Connection) -> int:
            r = table("round")
            ids = list(
                conn.execute(
                    sa.select(r.c.id).where(
                        r.c.closes_at < cutoff,
                        r.c.state.in_([RoundState.SUMMARISED.value, RoundState.SKIPPED.value]),
                    )
                ).scalars()
            )
            if ids and not dry_run:
                for name in (
                    "vote",
                    "argument",
                    "position",
                    "round_summary",
                    "outbox",
                    "round_salt",
                ):
                    t = table(name)
                    conn.execute(sa.delete(t).where(t.c.round_id.in_(ids)))
                conn.execute(sa.delete(r).where(r.c.id.in_(ids)))
            return len(ids)

        removed: int = await self.writer.call(purge)
        if removed and not dry_run:
            await self.db.on_writer(lambda: scrub_storage(self.db.engine))
            log.info("purged %d round(s) closed before %s", removed, cutoff)
        return removed

    async def apply_retention(self) -> int:
        if self.config.retention is None:
            return 0
        return await self.purge(self.config.retention)

    # ------------------------------------------------------------------ reading

    async def participation(self, round_id: int) -> int:
        def count(conn: Connection) -> int:
            p = table("position")
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(p).where(p.c.round_id == round_id)
                ).scalar_one()
            )

        return await self.db.read(count)

    async def round_info(self, round_id: int) -> RoundInfo | None:
        rounds = await self.list_rounds(round_id=round_id)
        return rounds[0] if rounds else None

    async def list_rounds(
        self, debate_id: str | None = None, round_id: int | None = None
    ) -> list[RoundInfo]:
        return await self.db.read(lambda conn: self.list_rounds_sync(conn, debate_id, round_id))

    def list_rounds_sync(
        self, conn: Connection, debate_id: str | None = None, round_id: int | None = None
    ) -> list[RoundInfo]:
        r, p = table("round"), table("position")
        counts = (
            sa.select(p.c.round_id, sa.func.count().label("n")).group_by(p.c.round_id).subquery()
        )
        query = (
            sa.select(r, counts.c.n)
            .select_from(r.outerjoin(counts, counts.c.round_id == r.c.id))
            .order_by(r.c.opens_at, r.c.id)
        )
        if debate_id is not None:
            query = query.where(r.c.debate_id == debate_id)
        if round_id is not None:
            query = query.where(r.c.id == round_id)
        return [
            RoundInfo(
                id=row.id,
                code=row.code,
                debate_id=row.debate_id,
                question_id=row.question_id,
                texts=self.round_texts(row),
                state=row.state,
                opens_at=row.opens_at,
                closes_at=row.closes_at,
                participants=int(row.n or 0),
                channels=tuple(c for c in row.channels.split("\n") if c),
            )
            for row in conn.execute(query)
        ]

    async def summary(self, round_id: int) -> Summary | None:
        return await self.db.read(lambda conn: load_summary(conn, round_id))

    @guarded("read")
    async def export(self, round_id: int, fmt: str) -> Attachment:
        if fmt not in EXPORT_FORMATS:
            raise EngineError(
                "unknown_format",
                format=escape_markdown(fmt[:20]),
                choices=", ".join(EXPORT_FORMATS),
            )
        summary = await self.summary(round_id)
        if summary is None:
            info = await self.round_info(round_id)
            raise EngineError("export_not_ready", code=info.code if info else round_id)
        checkpoint()  # what is left is rendering, not the database
        return await asyncio.to_thread(export_summary, summary, fmt)

    @guarded("read")
    async def latest_summarised(self, channel: ChannelRef | None = None) -> int | None:
        def read(conn: Connection) -> int | None:
            r = table("round")
            query = (
                sa.select(r.c.id, r.c.channels)
                .where(r.c.state == RoundState.SUMMARISED.value)
                .order_by(r.c.closes_at.desc(), r.c.id.desc())
            )
            for row in conn.execute(query):
                if channel is None or str(channel) in row.channels.split("\n"):
                    return int(row.id)
            return None

        return await self.db.read(read)

    @guarded("read")
    async def find_round(self, code: str) -> RoundInfo | None:
        def read(conn: Connection) -> int | None:
            r = table("round")
            found = conn.execute(sa.select(r.c.id).where(r.c.code == code.upper())).scalar()
            return None if found is None else int(found)

        round_id = await self.db.read(read)
        return None if round_id is None else await self.round_info(round_id)

    # ------------------------------------------------------------------ posts

    def format_time(self, moment: datetime) -> str:
        local = moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(self.config.tz)
        return local.strftime(self.messages("date_format", tz=self.config.timezone))

    async def build_post(self, round_id: int, kind: PostKind) -> RoundPost | None:
        info = await self.round_info(round_id)
        if info is None:
            return None
        debate = self._debate_or_none(info.debate_id)
        m = self.messages
        texts = info.texts
        question, context, source, labels = (
            texts.question,
            texts.context,
            texts.source,
            texts.stances,
        )
        closes = self.format_time(info.closes_at)
        title = texts.title
        attachments: tuple[Attachment, ...] = ()
        participation: int | None = None
        if kind == PostKind.ANNOUNCEMENT:
            text = (
                m("announcement_title", title=title, code=info.code)
                + "\n\n"
                + m(
                    "announcement_body",
                    question=question,
                    context=context,
                    source=source,
                    closes=closes,
                    stances=", ".join(
                        label if _fold(label) == _fold(s) else f"{label} (`{s}`)"
                        for s, label in labels
                    ),
                    code=info.code,
                )
            )
        elif kind == PostKind.REMINDER:
            text = m("reminder", code=info.code, question=question, closes=closes)
        elif kind == PostKind.PROGRESS:
            participation = info.participants
            text = m("progress", code=info.code, count=participation)
        elif kind == PostKind.SUMMARY:
            summary = await self.summary(round_id)
            if summary is None:
                return None
            text = render_summary_text(summary)
            chart = await asyncio.to_thread(_chart, summary)
            if chart is not None:
                attachments = (chart,)
            participation = int(summary.get("participants", 0))
        else:
            text = m("round_closing", code=info.code)
        from bot.render import markdown_to_html

        return RoundPost(
            kind=kind,
            round_id=info.id,
            round_code=info.code,
            debate_id=info.debate_id,
            debate_title=title,
            question=question,
            context=context,
            source=source,
            stances=labels,
            opens_at=info.opens_at,
            closes_at=info.closes_at,
            text=text,
            html=markdown_to_html(text),
            participation=participation,
            attachments=attachments,
            statement_voting=debate.statement_voting if debate else True,
            argument_max_chars=debate.argument_max_chars if debate else 1000,
        )


def _describe(differs: dict[str, tuple[Any, Any]]) -> str:
    """``opens 2026-12-07 17:00 -> 2026-12-08 17:00, channels``: what changed, for the log."""
    parts = []
    for key in ("opens_at", "closes_at", "reminder_at"):
        if key in differs:
            old, new = differs[key]
            shown = [
                f"{v:%Y-%m-%d %H:%M}" if isinstance(v, datetime) else "none" for v in (old, new)
            ]
            parts.append(f"{key.removesuffix('_at')} {shown[0]} -> {shown[1]} UTC")
    parts.extend(
        key
        for key in ("channels", "question_id", "title", "question", "context", "source", "stances")
        if key in differs
    )
    return ", ".join(parts)


def _fold(text: str) -> str:
    """Lowercase without accents, dashes as spaces: how people type a stance."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("-", " ").split())


def _chart(summary: Summary) -> Attachment | None:
    try:
        from bot.summary.charts import render_chart
    except ImportError:  # pragma: no cover - charts are optional at runtime
        return None
    data = render_chart(summary)
    return None if data is None else Attachment("synthese.png", data, "image/png")


def load_summary(conn: Connection, round_id: int) -> Summary | None:
    s = table("round_summary")
    data = conn.execute(sa.select(s.c.data).where(s.c.round_id == round_id)).scalar()
    if data is None:
        return None
    loaded: Summary = json.loads(data)
    return loaded


def _random_number(taken: set[int]) -> int:
    rng = random.SystemRandom()
    upper = 99
    while len(taken) * 3 > upper:
        upper = upper * 10 + 9
    while True:
        candidate = rng.randint(1, upper)
        if candidate not in taken:
            return candidate
