"""APScheduler 3.x wrapper: jobs rebuilt from the database at every start.

The database is the source of truth for when rounds open and close; the scheduler only wakes
the engine at the right moments. Every job calls :meth:`Engine.reconcile`, which applies
whatever is due, so a missed or duplicated wake-up is harmless. A minute tick also reconciles
(catching anything a job missed), refreshes participation counts and delivers the outbox.

Each debate with a ``moderation_channel`` has a job of its own at fixed ticks (multiples of its
``moderation_batch`` since a fixed epoch, never "so long after the first argument"): it posts
the arguments queued since the last tick, shuffled, so the time of a post names no author.

One scheduler per deployment: APScheduler 3 does not support two schedulers sharing a job
store, and we keep none (no pickled jobs) — they are rebuilt from config + database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.engine import Engine
from bot.models import RoundState

log = logging.getLogger(__name__)
UTC = ZoneInfo("UTC")
# Moderation batches fall on multiples of their interval counted from here.
BATCH_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BATCH_JOB = "moderation-"


class Scheduler:
    """Keeps one date job per pending transition and a periodic tick."""

    def __init__(
        self,
        engine: Engine,
        on_tick: Callable[[], Awaitable[None]],
        tick_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.on_tick = on_tick
        self.tick_seconds = tick_seconds
        # Late-open grace is the engine's business (it skips stale openings); the scheduler
        # must never drop a run silently, so misfire grace is unbounded and runs coalesce.
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self._started = False
        self._ticking: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.engine.reconcile()
        self.aps.start()
        self._started = True
        self.aps.add_job(self._tick, "interval", seconds=self.tick_seconds, id="tick")
        await self.rebuild()

    async def stop(self) -> None:
        if self._started:
            self.aps.shutdown(wait=False)
            self._started = False
        if self._ticking is not None:
            self._ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticking
            self._ticking = None

    async def rebuild(self) -> None:
        """Replace the date jobs with those the database asks for now."""
        if not self._started:
            return
        wanted: dict[str, datetime] = {}
        for r in await self.engine.due_rounds():
            if r.state == RoundState.SCHEDULED:
                wanted[f"open-{r.id}"] = r.opens_at
            elif r.state == RoundState.OPEN:
                wanted[f"close-{r.id}"] = r.closes_at
                if r.reminder_at is not None and not r.reminder_sent:
                    wanted[f"remind-{r.id}"] = r.reminder_at
        for job in self.aps.get_jobs():
            if job.id != "tick" and not job.id.startswith(BATCH_JOB) and job.id not in wanted:
                job.remove()
        self._batch_jobs()
        for job_id, moment in wanted.items():
            self.aps.add_job(
                self._wake,
                "date",
                run_date=moment.replace(tzinfo=UTC),
                id=job_id,
                replace_existing=True,
            )

    def _batch_jobs(self) -> None:
        """One job per debate with a moderation channel, every ``moderation_batch``."""
        wanted = {
            f"{BATCH_JOB}{d.id}": d
            for d in self.engine.config.debates
            if d.moderation_channel is not None
        }
        for job in self.aps.get_jobs():
            if job.id.startswith(BATCH_JOB) and job.id not in wanted:
                job.remove()
        for job_id, debate in wanted.items():
            seconds = debate.moderation_batch.total_seconds()
            job = self.aps.get_job(job_id)
            if job is not None and job.trigger.interval.total_seconds() == seconds:
                continue  # the same ticks: left as they are
            self.aps.add_job(
                self._post_batches,
                "interval",
                seconds=seconds,
                start_date=BATCH_EPOCH,
                id=job_id,
                replace_existing=True,
                args=[debate.id],
            )

    async def _post_batches(self, debate_id: str) -> None:
        try:
            await self.engine.post_moderation_batches(debate_id)
            await self.on_tick()
        except Exception:
            log.exception("the moderation batch failed; its arguments wait for the next tick")

    def request_rebuild(self) -> None:
        if self._started:
            self.aps.add_job(self.rebuild, id="rebuild", replace_existing=True)

    async def _wake(self) -> None:
        try:
            await self.engine.reconcile()
            await self.on_tick()
        except Exception:
            log.exception("scheduled transition failed; the next tick retries")
        await self.rebuild()

    async def _tick(self) -> None:
        # The job only starts the work: a tick that outlasts the interval (a summary being
        # built, a slow database) is never overrun by the next, and APScheduler never has to
        # skip a run (which it would warn about).
        if self._ticking is not None and not self._ticking.done():
            return
        self._ticking = asyncio.create_task(self._tick_once(), name="scheduler-tick")

    async def _tick_once(self) -> None:
        try:
            await self.engine.reconcile()
            await self.engine.post_progress()
            await self.engine.apply_retention()
            await self.on_tick()
        except Exception:
            log.exception("periodic tick failed; retrying at the next one")
