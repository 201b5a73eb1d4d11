"""Durations written as ``90s``, ``30m``, ``6h``, ``2d`` or combined (``1h30m``)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise ``ValueError`` with a message meant for a person."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise ValueError("empty duration: use a number and a unit (s, m, h, d), e.g. 2d or 6h")
    seconds = _sum_parts(cleaned, _PART, _UNITS)
    if seconds is None:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit (s, m, h, d), e.g. 2d, 6h, 1h30m"
        )
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def _sum_parts(text: str, part: re.Pattern[str], units: dict[str, int]) -> int | None:
    """The sum of ``<number><unit>`` parts covering all of ``text``, or None if they do not."""
    pos = 0
    total = 0
    for match in part.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * units[match.group(2)]
        pos = match.end()
    return total if text and pos == len(text) else None


def format_duration(delta: timedelta) -> str:
    """The shortest ``parse_duration`` spelling of ``delta``."""
    seconds = int(delta.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


_AGE_UNITS = {"d": 1, "w": 7, "mo": 30, "y": 365}
_AGE_PART = re.compile(r"(\d+)\s*(mo|[dwy])")
AGE_HINT = "use days or longer: d, w, mo (30 days) or y (365 days), e.g. 30d, 6mo, 1y"


def parse_age(text: str) -> timedelta:
    """An age for ``purge`` and ``retention``: days or longer, never minutes.

    ``1m`` is refused rather than read as a minute: an organiser who means one month would
    otherwise delete everything closed more than a minute ago.
    """
    days = _sum_parts(text.strip().lower().replace(" ", ""), _AGE_PART, _AGE_UNITS)
    if days is None:
        raise ValueError(f"invalid age {text!r}: {AGE_HINT}")
    if days <= 0:
        raise ValueError(f"age {text!r} must be at least one day: {AGE_HINT}")
    return timedelta(days=days)
