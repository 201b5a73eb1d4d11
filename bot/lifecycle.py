"""The round state machine as pure functions; ``now`` is always a parameter.

States: ``scheduled -> open -> closed -> summarised``, and ``scheduled -> skipped`` for an
opening missed by more than the grace period. Each transition is applied in the database with
a conditional update (``WHERE state = <from>``) so it happens once even when two callers race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import AtSchedule, CronSchedule, EverySchedule, Schedule
from bot.cron import crontab_trigger_fields
from bot.models import RoundState

TRANSITIONS: dict[RoundState, frozenset[RoundState]] = {
    RoundState.SCHEDULED: frozenset({RoundState.OPEN, RoundState.SKIPPED}),
    RoundState.OPEN: frozenset({RoundState.CLOSED}),
    RoundState.CLOSED: frozenset({RoundState.SUMMARISED}),
    RoundState.SUMMARISED: frozenset(),
    RoundState.SKIPPED: frozenset(),
}


def can_transition(current: RoundState, target: RoundState) -> bool:
    return target in TRANSITIONS[current]


class Action(StrEnum):
    OPEN = "open"
    SKIP = "skip"
    CLOSE = "close"
    SUMMARISE = "summarise"
    REMIND = "remind"


@dataclass(frozen=True)
class RoundTimes:
    """What the state machine needs to know about a round."""

    id: int
    state: RoundState
    opens_at: datetime
    closes_at: datetime
    reminder_at: datetime | None = None
    reminder_sent: bool = False


def due_action(r: RoundTimes, now: datetime, late_open_grace: timedelta) -> Action | None:
    """The transition due for ``r`` at ``now``, if any.

    A round whose opening was missed by less than ``late_open_grace`` opens late; one missed by
    more is skipped (its question was meant for a moment that has passed). A round whose close
    time has passed is closed, even after a long downtime: its positions are acknowledged and
    owed a summary.
    """
    if r.state == RoundState.SCHEDULED:
        if now < r.opens_at:
            return None
        if now >= r.closes_at or now - r.opens_at > late_open_grace:
            return Action.SKIP
        return Action.OPEN
    if r.state == RoundState.OPEN:
        if now >= r.closes_at:
            return Action.CLOSE
        if r.reminder_at is not None and not r.reminder_sent and now >= r.reminder_at:
            return Action.REMIND
        return None
    if r.state == RoundState.CLOSED:
        return Action.SUMMARISE
    return None


def next_opening(
    schedule: Schedule, after: datetime, tz: ZoneInfo, last_opening: datetime | None
) -> datetime | None:
    """The first opening strictly after ``after`` (all datetimes naive UTC), or None."""
    aware_after = after.replace(tzinfo=ZoneInfo("UTC"))
    if isinstance(schedule, CronSchedule):
        trigger = CronTrigger(**crontab_trigger_fields(schedule.cron), timezone=tz)
        fire = trigger.get_next_fire_time(None, aware_after + timedelta(microseconds=1))
        return None if fire is None else _naive_utc(fire)
    if isinstance(schedule, AtSchedule):
        times = sorted(_naive_utc(t if t.tzinfo else t.replace(tzinfo=tz)) for t in schedule.at)
        return next((t for t in times if t > after), None)
    if isinstance(schedule, EverySchedule):
        if schedule.start is not None:
            start = schedule.start if schedule.start.tzinfo else schedule.start.replace(tzinfo=tz)
            anchor = _naive_utc(start)
        elif last_opening is not None:
            anchor = last_opening
        else:
            return after + timedelta(seconds=1)
        if anchor > after:
            return anchor
        steps = int((after - anchor) / schedule.every) + 1
        return anchor + steps * schedule.every
    return None


def is_opening(
    schedule: Schedule, moment: datetime, tz: ZoneInfo, last_opening: datetime | None
) -> bool:
    """Whether ``schedule`` opens a round at ``moment`` (naive UTC).

    An ``every`` schedule with no start and no earlier round may open at any time.
    """
    if isinstance(schedule, EverySchedule) and schedule.start is None and last_opening is None:
        return True
    return next_opening(schedule, moment - timedelta(microseconds=1), tz, last_opening) == moment


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
