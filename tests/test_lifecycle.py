"""The round state machine and schedules, as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import AtSchedule, CronSchedule, EverySchedule
from bot.cron import validate_crontab
from bot.durations import format_duration, parse_duration
from bot.lifecycle import Action, RoundTimes, can_transition, due_action, next_opening
from bot.models import RoundState

T0 = datetime(2026, 12, 1, 17, 0)
GRACE = timedelta(hours=1)


def times(state: RoundState, **kw: object) -> RoundTimes:
    base = {"id": 1, "state": state, "opens_at": T0, "closes_at": T0 + timedelta(days=2)}
    base.update(kw)
    return RoundTimes(**base)  # type: ignore[arg-type]


def test_due_actions() -> None:
    assert due_action(times(RoundState.SCHEDULED), T0 - timedelta(seconds=1), GRACE) is None
    assert due_action(times(RoundState.SCHEDULED), T0, GRACE) == Action.OPEN
    assert (
        due_action(times(RoundState.SCHEDULED), T0 + timedelta(minutes=59), GRACE) == Action.OPEN
    )
    assert due_action(times(RoundState.SCHEDULED), T0 + timedelta(hours=2), GRACE) == Action.SKIP
    assert due_action(times(RoundState.OPEN), T0 + timedelta(days=1), GRACE) is None
    assert due_action(times(RoundState.OPEN), T0 + timedelta(days=3), GRACE) == Action.CLOSE
    reminded = times(RoundState.OPEN, reminder_at=T0 + timedelta(days=1))
    assert due_action(reminded, T0 + timedelta(days=1, minutes=1), GRACE) == Action.REMIND
    sent = times(RoundState.OPEN, reminder_at=T0 + timedelta(days=1), reminder_sent=True)
    assert due_action(sent, T0 + timedelta(days=1, minutes=1), GRACE) is None
    assert due_action(times(RoundState.CLOSED), T0, GRACE) == Action.SUMMARISE
    assert due_action(times(RoundState.SUMMARISED), T0, GRACE) is None


def test_transitions() -> None:
    assert can_transition(RoundState.SCHEDULED, RoundState.OPEN)
    assert can_transition(RoundState.OPEN, RoundState.CLOSED)
    assert not can_transition(RoundState.CLOSED, RoundState.OPEN)
    assert not can_transition(RoundState.SUMMARISED, RoundState.CLOSED)


def test_next_opening_cron_in_local_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    # Monday 18:00 in Paris is 17:00 UTC in winter.
    got = next_opening(CronSchedule(cron="0 18 * * 1"), datetime(2026, 11, 25), paris, None)
    assert got == datetime(2026, 11, 30, 17, 0)


def test_next_opening_at_and_every() -> None:
    utc = ZoneInfo("UTC")
    at = AtSchedule(at=[datetime(2026, 12, 1, 18, 0), datetime(2026, 12, 8, 18, 0)])
    assert next_opening(at, datetime(2026, 12, 2), utc, None) == datetime(2026, 12, 8, 18, 0)
    assert next_opening(at, datetime(2026, 12, 9), utc, None) is None
    every = EverySchedule(every=timedelta(days=2))
    assert next_opening(every, T0, utc, T0 - timedelta(hours=1)) == T0 + timedelta(hours=47)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 25 * * 1", "hour 25 out of range 0-23"),
        ("61 * * * *", "minute 61 out of range 0-59"),
        ("* * * *", "needs 5 fields"),
        ("* * 0 * *", "day 0 out of range 1-31"),
        ("*/0 * * * *", "step"),
    ],
)
def test_cron_errors(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_crontab(expr)


def test_durations() -> None:
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert format_duration(timedelta(hours=6)) == "6h"
    for bad in ("", "2 days", "h", "0s", "-1h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("expr", "weekday"),
    [
        ("0 18 * * 0", 6),
        ("0 18 * * 7", 6),
        ("0 18 * * 1", 0),
        ("0 18 * * 5", 4),
        ("0 18 * * sat", 5),
    ],
)
def test_crontab_weekdays_count_from_sunday(expr: str, weekday: int) -> None:
    got = next_opening(CronSchedule(cron=expr), datetime(2026, 11, 25), ZoneInfo("UTC"), None)
    assert got is not None and got.weekday() == weekday


def test_crontab_weekday_ranges() -> None:
    from bot.cron import crontab_trigger_fields

    assert crontab_trigger_fields("0 9 * * 1-5")["day_of_week"] == "mon,tue,wed,thu,fri"
    assert crontab_trigger_fields("0 9 * * 0,6")["day_of_week"] == "sun,sat"
    assert crontab_trigger_fields("0 9 * * */2")["day_of_week"] == "sun,tue,thu,sat"
