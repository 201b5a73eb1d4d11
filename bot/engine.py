"""The engine's façade: rounds opened, closed and extended; answers, votes, moderation, exports.

Platform-neutral: callers pass a platform name and a user id, which are turned into a per-round
pseudonym at once and never stored or logged. Errors a member should hear about are raised as
:class:`EngineError` carrying a catalogue key (see :mod:`bot.i18n`); they change nothing.

:class:`Engine` is the entry point the app and the use-case layer (:mod:`bot.usecases`)
call; it composes the parts that do the work: :mod:`bot.participation` (members),
:mod:`bot.moderation` (moderators), :mod:`bot.rounds` (lifecycle and scheduling),
:mod:`bot.posts` (rendering), :mod:`bot.retention` (purge), over :mod:`bot.store` (every
query) and :mod:`bot.core` (the shared state and lookups).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from bot import retention
from bot.config import Config, DebateConfig
from bot.core import (
    Core,
    EngineError,
    EngineHooks,
    OpenRound,
    RoundInfo,
    RoundTexts,
    utcnow,
)
from bot.db import Database
from bot.erasure import scrub_storage
from bot.events import Attachment, ChannelRef, PostKind, RoundPost
from bot.i18n import Messages
from bot.lifecycle import Action, RoundTimes
from bot.moderation import Moderation
from bot.outage import Budget, guarded
from bot.packs import Pack, PackItem
from bot.participation import (
    VOTE_VALUES,
    ArgumentToVote,
    MyPosition,
    Participation,
    RateLimiter,
)
from bot.posts import Posts
from bot.rounds import Rounds
from bot.store import ArgumentRow, load_summary
from bot.summary.model import Summary
from bot.text import escape_markdown
from bot.writer import GroupWriter

__all__ = [
    "VOTE_VALUES",
    "ArgumentToVote",
    "Engine",
    "EngineError",
    "EngineHooks",
    "MyPosition",
    "OpenRound",
    "RateLimiter",
    "RoundInfo",
    "RoundTexts",
    "load_summary",
    "utcnow",
]


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
        hooks: EngineHooks | None = None,
    ) -> None:
        self.core = Core(config, db, packs, secret, clock, hooks or EngineHooks())
        self.db = db
        # How long members wait for the database before they are answered anyway.
        self.budget = Budget()
        self.members = Participation(self.core)
        self.limiter = self.members.limiter
        self.rounds = Rounds(self.core, self.limiter)
        self.moderation = Moderation(self.core, self.rounds)
        self.posts = Posts(self.core)

    # ------------------------------------------------------------------ shared state

    @property
    def config(self) -> Config:
        return self.core.config

    @property
    def packs(self) -> dict[str, Pack]:
        return self.core.packs

    @packs.setter
    def packs(self, packs: dict[str, Pack]) -> None:
        self.core.packs = packs

    @property
    def messages(self) -> Messages:
        return self.core.messages

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.core.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self.core.clock = clock

    @property
    def writer(self) -> GroupWriter:
        return self.core.writer

    @property
    def _open(self) -> dict[int, OpenRound]:
        return self.core.open

    # ------------------------------------------------------------------ start / stop

    async def start(self) -> None:
        self.writer.start()
        # A crash between a close (or purge) and its scrub leaves old bytes behind: scrub now.
        await self.db.on_writer(lambda: scrub_storage(self.db.engine))
        await self.rounds.load_open_rounds()

    async def stop(self) -> None:
        await self.writer.stop()

    # ------------------------------------------------------------------ lookups

    def stances_for(self, debate: DebateConfig, question_id: str) -> list[str]:
        return self.core.stances_for(debate, question_id)

    def stance_label(self, debate_id: str, stance: str) -> str:
        return self.core.stance_label(debate_id, stance)

    def stance_names(self, debate_id: str, stance: str) -> tuple[str, ...]:
        return self.core.stance_names(debate_id, stance)

    def numbered_stances(self, r: OpenRound) -> str:
        return self.core.numbered_stances(r)

    def question(self, debate_id: str, question_id: str) -> PackItem | None:
        return self.core.question(debate_id, question_id)

    def live_texts(self, debate_id: str, question_id: str) -> RoundTexts:
        return self.core.live_texts(debate_id, question_id)

    def round_texts(self, row: Any) -> RoundTexts:
        return self.core.round_texts(row)

    def question_text(self, debate_id: str, question_id: str) -> str:
        return self.core.question_text(debate_id, question_id)

    def debate_channels(self, debate_id: str) -> tuple[ChannelRef, ...]:
        return self.core.debate_channels(debate_id)

    def moderated_channels(self) -> tuple[ChannelRef, ...]:
        return self.core.moderated_channels()

    def open_rounds(self) -> list[OpenRound]:
        return self.core.open_rounds()

    def resolve_round(
        self,
        code: str | None,
        channel: ChannelRef | None = None,
        shared_channels: Iterable[ChannelRef] = (),
        platform: str | None = None,
    ) -> OpenRound:
        return self.core.resolve_round(code, channel, shared_channels, platform)

    def open_round_by_id(self, round_id: int) -> OpenRound | None:
        """The open round with this id, or None once it is closed (or never opened)."""
        return self.core.open.get(round_id)

    def pseudonym_for(self, round_id: int, platform: str, user_id: str) -> str | None:
        return self.core.pseudonym_for(round_id, platform, user_id)

    # ------------------------------------------------------------------ members

    def parse_stance(self, r: OpenRound, word: str) -> str:
        return self.members.parse_stance(r, word)

    def clean_argument(self, r: OpenRound, text: str) -> str:
        return self.members.clean_argument(r, text)

    @guarded("write")
    async def submit_position(
        self,
        round_id: int,
        platform: str,
        user_id: str,
        stance_word: str,
        argument: str | None = None,
    ) -> tuple[str, int | None]:
        return await self.members.submit_position(
            round_id, platform, user_id, stance_word, argument
        )

    @guarded("write")
    async def add_argument(self, round_id: int, platform: str, user_id: str, text: str) -> int:
        return await self.members.add_argument(round_id, platform, user_id, text)

    async def _insert_argument(
        self, r: OpenRound, participant: str, text: str, *, stance: str | None = None
    ) -> int:
        return await self.members.insert_argument(r, participant, text, stance=stance)

    @guarded("write")
    async def withdraw(self, round_id: int, platform: str, user_id: str) -> bool:
        return await self.members.withdraw(round_id, platform, user_id)

    @guarded("read")
    async def my_position(self, round_id: int, platform: str, user_id: str) -> MyPosition:
        return await self.members.my_position(round_id, platform, user_id)

    def describe_position(
        self, r: OpenRound, mine: MyPosition, escape: Callable[[str], str] = escape_markdown
    ) -> str:
        return self.posts.describe_position(r, mine, escape)

    @guarded("read")
    async def next_argument(
        self, round_id: int, platform: str, user_id: str
    ) -> ArgumentToVote | None:
        return await self.members.next_argument(round_id, platform, user_id)

    @guarded("write")
    async def remember_prompt(
        self, round_id: int, platform: str, user_id: str, argument_id: int | None
    ) -> None:
        await self.members.remember_prompt(round_id, platform, user_id, argument_id)

    @guarded("read")
    async def pending_vote(self, platform: str, user_id: str) -> tuple[int, int] | None:
        return await self.members.pending_vote(platform, user_id)

    @guarded("write")
    async def vote(
        self, round_id: int, platform: str, user_id: str, argument_id: int, value: int
    ) -> None:
        await self.members.vote(round_id, platform, user_id, argument_id, value)

    def argument_id(self, round_id: int, number: int) -> int:
        return self.moderation.argument_id(round_id, number)

    # ------------------------------------------------------------------ moderators

    @guarded("read")
    async def list_arguments(self, round_id: int) -> list[tuple[int, str, bool]]:
        return await self.moderation.list_arguments(round_id)

    @guarded("read")
    async def argument_rows(self, round_id: int) -> list[ArgumentRow]:
        return await self.moderation.argument_rows(round_id)

    @guarded("write")
    async def set_hidden(self, round_id: int, number: int, hidden: bool) -> None:
        await self.moderation.set_hidden(round_id, number, hidden)

    @guarded("write")
    async def approve(self, round_id: int, number: int) -> None:
        await self.moderation.approve(round_id, number)

    def pending_numbers(self, round_id: int) -> set[int]:
        return self.moderation.pending_numbers(round_id)

    async def post_moderation_batches(self, debate_id: str | None = None) -> int:
        return await self.moderation.post_batches(debate_id)

    @guarded("write")
    async def open_round(self, debate_id: str, *, opened_by: str = "moderator") -> RoundInfo:
        return await self.moderation.open_round(debate_id, opened_by=opened_by)

    @guarded("write")
    async def extend_round(self, round_id: int, delta: timedelta) -> datetime:
        return await self.rounds.extend_round(round_id, delta)

    @guarded("write")
    async def close_round(self, round_id: int) -> bool:
        return await self.moderation.close_round(round_id)

    @guarded("read")
    async def export(self, round_id: int, fmt: str) -> Attachment:
        return await self.moderation.export(round_id, fmt)

    @guarded("read")
    async def latest_summarised(self, channel: ChannelRef | None = None) -> int | None:
        return await self.moderation.latest_summarised(channel)

    @guarded("read")
    async def find_round(self, code: str) -> RoundInfo | None:
        return await self.moderation.find_round(code)

    # ------------------------------------------------------------------ lifecycle

    async def _create_round(self, debate: DebateConfig, opens_at: datetime, opened_by: str) -> int:
        return await self.rounds.create_round(debate, opens_at, opened_by)

    async def apply(self, round_id: int, action: Action) -> bool:
        return await self.rounds.apply(round_id, action)

    async def apply_config(self, config: Config) -> list[str]:
        return await self.rounds.apply_config(config)

    async def reconcile_config(self) -> list[str]:
        return await self.rounds.reconcile_config()

    async def post_progress(self) -> None:
        await self.rounds.post_progress()

    async def due_rounds(self) -> list[RoundTimes]:
        return await self.rounds.due_rounds()

    async def reconcile(self) -> list[tuple[int, Action]]:
        return await self.rounds.reconcile()

    async def ensure_scheduled(self) -> list[int]:
        return await self.rounds.ensure_scheduled()

    async def purge(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        return await retention.purge(self.core, older_than, dry_run=dry_run)

    async def apply_retention(self) -> int:
        return await retention.apply_retention(self.core)

    # ------------------------------------------------------------------ reading

    async def participation(self, round_id: int) -> int:
        return await self.rounds.participation(round_id)

    async def round_info(self, round_id: int) -> RoundInfo | None:
        return await self.core.round_info(round_id)

    async def list_rounds(
        self, debate_id: str | None = None, round_id: int | None = None
    ) -> list[RoundInfo]:
        return await self.db.read(lambda conn: self.list_rounds_sync(conn, debate_id, round_id))

    def list_rounds_sync(
        self, conn: Connection, debate_id: str | None = None, round_id: int | None = None
    ) -> list[RoundInfo]:
        return self.core.list_rounds_sync(conn, debate_id, round_id)

    async def summary(self, round_id: int) -> Summary | None:
        return await self.core.summary(round_id)

    # ------------------------------------------------------------------ posts

    def format_time(self, moment: datetime) -> str:
        return self.posts.format_time(moment)

    async def build_post(
        self,
        round_id: int,
        kind: PostKind,
        *,
        outbox_id: int | None = None,
        platform: str | None = None,
    ) -> RoundPost | None:
        return await self.posts.build_post(round_id, kind, outbox_id=outbox_id, platform=platform)
