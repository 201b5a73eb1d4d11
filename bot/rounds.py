"""Rounds over time: created, opened, reminded, closed, summarised; kept in line with the config.

Every change of state goes through :meth:`Rounds.transition`: a conditional update (``WHERE
state = <from>``) and what follows it in the same transaction, so that a transition happens
once even when two callers race (see :mod:`bot.lifecycle`). The database is the source of
truth for timing: :meth:`Rounds.reconcile` applies whatever is due.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from bot import lifecycle, store
from bot.anonymity import new_round_code, new_salt
from bot.config import Config, DebateConfig, ManualSchedule
from bot.core import Core, EngineError
from bot.erasure import rekey_round, scrub_storage
from bot.events import PostKind
from bot.i18n import Messages
from bot.leader import holds_lease
from bot.lifecycle import Action, RoundTimes
from bot.models import RoundState
from bot.outage import checkpoint
from bot.outbox import enqueue_posts
from bot.packs import Pack
from bot.participation import RateLimiter, _random_number, while_open
from bot.posts import describe_changes
from bot.store import ArgumentRow, RoundRow
from bot.summary import build_summary
from bot.summary.carry import carried_arguments
from bot.summary.model import RoundData
from bot.writer import RoundNotOpen

log = logging.getLogger(__name__)
T = TypeVar("T")


class Rounds:
    """The lifecycle and the scheduling of rounds."""

    def __init__(self, core: Core, limiter: RateLimiter) -> None:
        self.core = core
        self.limiter = limiter

    async def load_open_rounds(self) -> None:
        """Rebuild the open-round cache from the database (at start)."""
        loaded = await self.core.db.read(store.open_rounds)
        self.core.open.clear()
        for row in loaded:
            opened = self.core.open_round_from_row(row.round, row.salt)
            for arg in row.arguments:
                opened.arguments[arg.id] = (arg.number, arg.author, arg.hidden)
                if arg.pending:
                    opened.pending.add(arg.id)
            self.core.open[opened.id] = opened

    # ------------------------------------------------------------------ creating

    async def create_round(self, debate: DebateConfig, opens_at: datetime, opened_by: str) -> int:
        question_id, seq = await self.core.db.read(
            lambda conn: pick_question(conn, debate, self.core.packs)
        )
        values = {
            "debate_id": debate.id,
            "seq": seq,
            "question_id": question_id,
            "state": RoundState.SCHEDULED.value,
            "reminder_sent": False,
            "opened_by": opened_by,
            "progress_posted": 0,
            **self.terms(debate, opens_at),
            **self.core.live_texts(debate.id, question_id).to_columns(),
        }

        fence = self.core.fence()

        def insert(conn: Connection) -> int:
            if fence is not None and not holds_lease(conn, fence):
                raise EngineError("not_leader")  # a deposed leader must not add a round
            for _ in range(10):
                code = new_round_code()
                if not store.code_taken(conn, code):
                    break
            return store.insert_round(conn, {**values, "code": code})

        round_id: int = await self.core.db.write(insert)
        log.info("round %s of debate %s scheduled for %s", round_id, debate.id, opens_at)
        return round_id

    def terms(self, debate: DebateConfig, opens_at: datetime) -> dict[str, Any]:
        """A round's times and channels, as the debate's config gives them for this opening."""
        closes_at = opens_at + debate.round_duration
        reminder_at = (
            closes_at - debate.reminder_before_close if debate.reminder_before_close else None
        )
        channels = "\n".join(
            f"{c.platform}:{c.key}"
            for c in debate.channels
            if c.platform in self.core.config.platforms.enabled()
        )
        return {
            "opens_at": opens_at,
            "closes_at": closes_at,
            "reminder_at": reminder_at,
            "channels": channels,
        }

    # ------------------------------------------------------------------ transitions

    async def apply(self, round_id: int, action: Action) -> bool:
        """Apply one transition; False if another caller already did (or it no longer applies)."""
        async with self.core.lock:
            if action == Action.OPEN:
                return await self._open(round_id)
            if action == Action.SKIP:
                return await self.skip(round_id)
            if action == Action.CLOSE:
                return await self._close(round_id)
            if action == Action.SUMMARISE:
                return await self.summarise(round_id)
            if action == Action.REMIND:
                return await self._remind(round_id)
        return False

    async def transition(
        self,
        round_id: int,
        source: RoundState,
        target: RoundState,
        then: Callable[[Connection], T],
        *,
        ended_at: datetime | None = None,
        reminder: bool = False,
        ends_rounds: bool = False,
    ) -> T | None:
        """Move the round from ``source`` to ``target`` and run ``then`` in that transaction.

        None if the round was no longer in ``source`` (another caller got there first). A
        reminder stays in its state (open) and applies once (see :func:`store.transition`).
        """
        assert lifecycle.can_transition(source, target) or (reminder and source == target)
        fence = self.core.fence()  # a follower (or a lapsed leader) is refused here

        def update(conn: Connection) -> T | None:
            applied = store.transition(
                conn, round_id, source, target, ended_at=ended_at, reminder=reminder, fence=fence
            )
            return then(conn) if applied else None

        return await self.core.writer.call(update, ends_rounds=ends_rounds)

    async def skip(self, round_id: int) -> bool:
        done = await self.transition(
            round_id, RoundState.SCHEDULED, RoundState.SKIPPED, lambda conn: True
        )
        if done:
            log.info("round %s: %s -> %s", round_id, RoundState.SCHEDULED, RoundState.SKIPPED)
        return bool(done)

    def _enqueue(self, round_id: int, kind: PostKind) -> Callable[[Connection], bool]:
        def then(conn: Connection) -> bool:
            enqueue_posts(conn, round_id, kind, self.core.clock())
            return True

        return then

    async def _open(self, round_id: int) -> bool:
        salt = new_salt()
        announce = self._enqueue(round_id, PostKind.ANNOUNCEMENT)

        def then(conn: Connection) -> tuple[RoundRow, list[ArgumentRow]]:
            store.insert_salt(conn, round_id, salt)
            announce(conn)
            row = store.round_by_id(conn, round_id)
            assert row is not None
            return row, seed_follow_up(conn, row, self.core.debate_or_none(row.debate_id))

        opened = await self.transition(round_id, RoundState.SCHEDULED, RoundState.OPEN, then)
        if opened is None:
            return False
        row, seeded = opened
        r = self.core.open[round_id] = self.core.open_round_from_row(row, salt)
        r.arguments.update((a.id, (a.number, a.author, a.hidden)) for a in seeded)
        log.info("round %s opened (%d arguments carried over)", round_id, len(seeded))
        self.core.hooks.on_outbox()
        self.core.hooks.on_schedule_change()
        return True

    async def _close(self, round_id: int) -> bool:
        # Refuse new submissions at once; those already queued are committed first (FIFO).
        closing = self.core.open.pop(round_id, None)

        def then(conn: Connection) -> bool:
            store.delete_salt(conn, round_id)
            store.delete_pending_votes(conn, round_id)
            store.delete_moderation_rows(conn, round_id)
            # Pseudonyms become random tokens: a salt recovered later matches nothing.
            rekey_round(conn, round_id, rename=True)
            return True

        try:
            # An early close records when the round really ended (exports, purge use it).
            done = await self.transition(
                round_id,
                RoundState.OPEN,
                RoundState.CLOSED,
                then,
                ended_at=self.core.clock(),
                ends_rounds=True,
            )
        except Exception:
            if closing is not None:
                self.core.open[round_id] = closing  # still open in the database: keep serving it
            raise
        if closing is not None:
            self.limiter.forget(author for _, author, _ in closing.arguments.values())
        if not done:
            return False
        checkpoint()  # the round is closed from here on, whatever fails next
        # The close is acknowledged only once the old bytes have left the files.
        await self.core.db.on_writer(lambda: scrub_storage(self.core.db.engine))
        log.info("round %s closed; its salt is erased and its pseudonyms re-keyed", round_id)
        await self.summarise(round_id)
        return True

    def collect(self, conn: Connection, round_id: int) -> RoundData | None:
        """Everything a summary rests on (see :func:`store.collect`)."""
        config = self.core.config
        lang, size = config.language, config.anonymity.min_group_size
        return store.collect(conn, round_id, self.core.round_texts, lang, size)

    async def summarise(self, round_id: int) -> bool:
        data = await self.core.db.read(lambda conn: self.collect(conn, round_id))
        if data is None:
            return False
        summary = await asyncio.to_thread(build_summary, data)
        payload = json.dumps(summary, ensure_ascii=False, sort_keys=True)
        publish = self._enqueue(round_id, PostKind.SUMMARY)

        def then(conn: Connection) -> bool:
            store.insert_summary(conn, round_id, payload)
            return publish(conn)

        done = await self.transition(round_id, RoundState.CLOSED, RoundState.SUMMARISED, then)
        if done:
            log.info("round %s summarised", round_id)
            self.core.hooks.on_outbox()
        return bool(done)

    async def _remind(self, round_id: int) -> bool:
        remind = self._enqueue(round_id, PostKind.REMINDER)
        done = await self.transition(
            round_id, RoundState.OPEN, RoundState.OPEN, remind, reminder=True
        )
        if done:
            self.core.hooks.on_outbox()
        return bool(done)

    async def extend_round(self, round_id: int, delta: timedelta) -> datetime:
        r = self.core.require_open(round_id)
        new_close = r.closes_at + delta

        def update(conn: Connection) -> None:
            store.extend_round(conn, r.id, new_close, delta)

        await while_open(self.core.writer.call(update, round_id=r.id))
        r.closes_at = new_close
        self.core.hooks.on_schedule_change()
        return new_close

    # ------------------------------------------------------------------ progress

    async def participation(self, round_id: int) -> int:
        return await self.core.db.read(lambda conn: store.participation(conn, round_id))

    async def post_progress(self) -> None:
        """Queue a PROGRESS post for open rounds whose participation changed (once a minute)."""
        for r in list(self.core.open.values()):
            count = await self.participation(r.id)
            post = self._enqueue(r.id, PostKind.PROGRESS)

            def update(
                conn: Connection,
                rid: int = r.id,
                n: int = count,
                then: Callable[[Connection], bool] = post,
            ) -> bool:
                return store.record_progress(conn, rid, n) and then(conn)

            try:
                if await self.core.writer.call(update, round_id=r.id):
                    self.core.hooks.on_outbox()
            except RoundNotOpen:
                continue

    # ------------------------------------------------------------------ scheduling

    async def due_rounds(self) -> list[RoundTimes]:
        return await self.core.db.read(store.active_round_times)

    async def reconcile(self) -> list[tuple[int, Action]]:
        """Apply every transition due now: the database is the source of truth for timing."""
        now = self.core.clock()
        grace = self.core.config.late_open_grace
        applied = []
        due = [(t, lifecycle.due_action(t, now, grace)) for t in await self.due_rounds()]
        # Closes first: a round opening now follows up on the one closing now (follow_up).
        for times, action in sorted(due, key=lambda d: d[1] == Action.OPEN):
            if action is None:
                continue
            if action == Action.SKIP:
                log.warning(
                    "round %s missed its opening at %s (grace %s): skipped",
                    times.id,
                    times.opens_at,
                    grace,
                )
            if await self.apply(times.id, action):
                applied.append((times.id, action))
        await self.ensure_scheduled()
        return applied

    async def ensure_scheduled(self) -> list[int]:
        """Make sure each scheduled debate has its next round in the database."""
        created: list[int] = []
        if not self.core.leading:
            return created  # the leader adds them
        now = self.core.clock()
        for debate in self.core.config.debates:
            if isinstance(debate.schedule, ManualSchedule) or debate.pack not in self.core.packs:
                continue
            has_pending, last = await self.core.db.read(
                partial(store.schedule_state, debate_id=debate.id)
            )
            if has_pending:
                continue
            after = max(now, last) if last else now
            opening = lifecycle.next_opening(debate.schedule, after, self.core.config.tz, last)
            if opening is None:
                continue
            created.append(await self.create_round(debate, opening, opened_by="schedule"))
        if created:
            self.core.hooks.on_schedule_change()
        return created

    # ------------------------------------------------------------------ configuration

    async def apply_config(self, config: Config) -> list[str]:
        """Take a new configuration (a reload) and reconcile the rounds not yet open with it."""
        self.core.config = config
        self.core.messages = Messages(config.language)
        self.limiter.limit = config.limits.actions_per_minute
        changes = await self.reconcile_config()
        await self.ensure_scheduled()
        self.core.hooks.on_schedule_change()
        return changes

    async def reconcile_config(self) -> list[str]:
        """Bring the rounds not yet open in line with the config; one log line per change.

        A round of a debate removed from the config (or made manual) is cancelled; a round
        whose opening no longer fits the debate's schedule moves to the schedule's next
        opening; its duration, reminder, channels and texts follow the config. Open rounds
        keep their terms: moderators extend or close them.
        """
        if not self.core.leading:
            return []  # the leader reconciles (every process is to have the same config)
        now = self.core.clock()

        def read(conn: Connection) -> tuple[list[RoundRow], dict[str, datetime]]:
            return store.scheduled_rounds(conn), store.last_scheduled_openings(conn)

        pending, last = await self.core.db.read(read)
        changes: list[str] = []
        for row in pending:
            change = await self._reconcile_round(row, last.get(row.debate_id), now)
            if change is not None:
                changes.append(change)
        for change in changes:
            log.info("config: %s", change)
        return changes

    async def _reconcile_round(
        self, row: RoundRow, previous: datetime | None, now: datetime
    ) -> str | None:
        """One scheduled round brought in line with the config: what changed, if anything."""
        debate = self.core.debate_or_none(row.debate_id)
        why = None
        if debate is None:
            why = "its debate is no longer in the config"
        elif isinstance(debate.schedule, ManualSchedule):
            why = "its debate is now opened by moderators only"
        elif debate.pack not in self.core.packs:
            why = f"pack {debate.pack} is missing"
        if why is not None or debate is None:
            cancelled = await self.skip(row.id)
            return f"round {row.id} ({row.debate_id}) cancelled: {why}" if cancelled else None
        opens_at = row.opens_at
        tz = self.core.config.tz
        if not lifecycle.is_opening(debate.schedule, opens_at, tz, previous):
            after = max(now, previous) if previous else now
            moved = lifecycle.next_opening(debate.schedule, after, tz, previous)
            if moved is None:
                if not await self.skip(row.id):
                    return None
                return f"round {row.id} ({debate.id}) cancelled: its schedule has no opening left"
            opens_at = moved
        return await self._update_terms(row, debate, opens_at)

    async def _update_terms(
        self, row: RoundRow, debate: DebateConfig, opens_at: datetime
    ) -> str | None:
        question_id = row.question_id
        if self.core.question(debate.id, question_id) is None:  # gone from the pack
            question_id, _ = await self.core.db.read(
                lambda conn: pick_question(conn, debate, self.core.packs)
            )
        wanted = {
            **self.terms(debate, opens_at),
            "question_id": question_id,
            **self.core.live_texts(debate.id, question_id).to_columns(),
        }
        differs = {k: (getattr(row, k), v) for k, v in wanted.items() if getattr(row, k) != v}
        if not differs:
            return None

        def update(conn: Connection) -> bool:
            return store.update_scheduled_round(conn, row.id, wanted)

        if not await self.core.writer.call(update):
            return None
        return f"round {row.id} ({debate.id}) updated: {describe_changes(differs)}"


def pick_question(
    conn: Connection, debate: DebateConfig, packs: Mapping[str, Pack]
) -> tuple[str, int]:
    """The debate's next question (each once per cycle, in order or at random) and seq."""
    pool = list(debate.questions) or packs[debate.pack].item_ids()
    used, seq = store.question_history(conn, debate.id)
    cycle_used = used[len(used) - len(used) % len(pool) :] if pool else []
    remaining = [q for q in pool if q not in cycle_used] or pool
    if debate.order == "sequential":
        return remaining[0], seq
    return random.SystemRandom().choice(remaining), seq


def seed_follow_up(
    conn: Connection, row: RoundRow, debate: DebateConfig | None
) -> list[ArgumentRow]:
    """Insert a follow-up round's carried-over arguments, in the transaction that opens it.

    With ``follow_up`` (read at opening), the arguments the summary of the debate's most
    recent summarised round showed as common ground and as what divides
    (:func:`bot.summary.carry.carried_arguments`), each with a fresh random number; none
    without ``follow_up`` or without such a round (a first round, or the others purged).
    """
    if debate is None or not debate.follow_up:
        return []
    previous = store.previous_summary(conn, row.debate_id, row.id)
    if previous is None:
        return []
    seeded: list[ArgumentRow] = []
    for carried in carried_arguments(previous):
        number = _random_number({a.number for a in seeded})
        seeded.append(store.insert_carried(conn, row.id, number, carried.text, carried.origin))
    return seeded
