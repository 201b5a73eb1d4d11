"""Validation of five-field crontab expressions with messages a person can act on.

APScheduler parses the expression in the end (``CronTrigger.from_crontab``); this module only
checks it first so that ``check-config`` can say ``hour 25 out of range 0-23`` rather than a
parser's internal message.
"""

from __future__ import annotations

_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                [
                    "jan",
                    "feb",
                    "mar",
                    "apr",
                    "may",
                    "jun",
                    "jul",
                    "aug",
                    "sep",
                    "oct",
                    "nov",
                    "dec",
                ]
            )
        },
    ),
    (
        "day of week",
        0,
        7,
        {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
    ),
)


def validate_crontab(expr: str) -> None:
    """Raise ``ValueError`` naming the faulty field if ``expr`` is not a valid crontab line."""
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron needs 5 fields (minute hour day month day-of-week), got {len(parts)}"
        )
    for text, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        for item in text.split(","):
            _check_item(item, name, low, high, names)


def _value(token: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    lowered = token.lower()
    if lowered in names:
        return names[lowered]
    if not token.isdigit():
        raise ValueError(f"{name} {token!r} is not a number")
    value = int(token)
    if not low <= value <= high:
        raise ValueError(f"{name} {value} out of range {low}-{high}")
    return value


def _check_item(item: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    if not item:
        raise ValueError(f"{name}: empty list item")
    base, _, step = item.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        raise ValueError(f"{name} step {step!r} must be a positive number")
    if base == "*":
        return
    start, dash, end = base.partition("-")
    first = _value(start, name, low, high, names)
    if dash:
        last = _value(end, name, low, high, names)
        if last < first:
            raise ValueError(f"{name} range {base} goes backwards")


_DOW_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _crontab_days_of_week(field: str) -> str:
    """Crontab counts weekdays from Sunday = 0 (7 too); APScheduler 3 counts from Monday = 0.

    Numbers would silently shift every schedule by a day, so the field is rewritten as an
    explicit list of day names, which both agree on.
    """
    if field == "*":
        return "*"
    names = {d: i for i, d in enumerate(_DOW_NAMES)}
    days: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        else:
            start, dash, end = base.partition("-")
            named = names.get(start.lower())
            first = int(start) % 7 if named is None else named
            if dash:
                last_name = names.get(end.lower())
                last = (7 if end == "7" else int(end)) if last_name is None else last_name
            else:
                last = first
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_DOW_NAMES[d] for d in sorted(days))


def crontab_trigger_fields(expr: str) -> dict[str, str]:
    """The keyword arguments of APScheduler's ``CronTrigger`` for a crontab line."""
    validate_crontab(expr)
    minute, hour, day, month, dow = expr.split()
    return {
        "minute": minute,
        "hour": hour,
        "day": day,
        "month": month,
        "day_of_week": _crontab_days_of_week(dow),
    }
