"""How a member's typed answer to a vote prompt is read, in either language.

An answer is a number shown next to each choice (``1`` agree, ``2`` disagree, ``3`` pass), a
word of either language (``oui`` / ``non`` / ``passer``, ``yes`` / ``no`` / ``skip``,
``d'accord``, ``pas d'accord``, ``agree``, ``disagree``, ``pass``), or on Matrix one of the
three reactions. Accents, case and final punctuation are ignored. No single letter is read:
their meaning flips between the two languages (``p`` is *pas d'accord* or *pass*).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core import fold

AGREE, DISAGREE, PASS = 1, -1, 0

# The reactions the bot adds to a vote prompt on Matrix, in the order of the numbers.
VOTE_REACTIONS: dict[str, int] = {"👍": AGREE, "👎": DISAGREE, "⏭": PASS, "⏭️": PASS}

_WORDS: dict[str, int] = {
    "1": AGREE,
    "oui": AGREE,
    "yes": AGREE,
    "agree": AGREE,
    "d accord": AGREE,
    "daccord": AGREE,
    "2": DISAGREE,
    "non": DISAGREE,
    "no": DISAGREE,
    "disagree": DISAGREE,
    "pas d accord": DISAGREE,
    "pas daccord": DISAGREE,
    "3": PASS,
    "passer": PASS,
    "passe": PASS,
    "pass": PASS,
    "skip": PASS,
}


def _folded(text: str) -> str:
    plain = fold(text.replace("’", "'").replace("'", " "))
    return " ".join(plain.strip(" .!?,;:").split())


def vote_value(text: str) -> int | None:
    """The vote a typed answer (or reaction) means, or None when it cannot be read."""
    stripped = text.strip()
    if stripped in VOTE_REACTIONS:
        return VOTE_REACTIONS[stripped]
    return _WORDS.get(_folded(stripped))


def _words(text: str) -> str:
    """A stance name as compared: folded, apostrophes and punctuation as spaces."""
    plain = fold(text.replace("’", "'"))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in plain).split())


def read_stance(rest: str, options: Sequence[tuple[str, Sequence[str]]]) -> tuple[str, str] | None:
    """``(stance, argument)`` from what follows ``!position``, or None when it is unknown or
    ambiguous.

    ``options`` are the round's stances in their order, each with its names (id, labels in
    both languages, aliases). The first word may be the stance's number (``2``). Otherwise the
    longest name that starts the text wins, so a label is never split into the argument; two
    stances matched by names of the same length are ambiguous.
    """
    raw = rest.split()
    if not raw:
        return None
    number = raw[0].rstrip(".)")
    if number.isdigit():
        index = int(number) - 1
        if 0 <= index < len(options):
            return options[index][0], _after(rest, 1)
        return None
    best: dict[int, set[str]] = {}
    for k in range(1, len(raw) + 1):
        if not _words(raw[k - 1]):
            continue  # a word of punctuation alone is the argument's, never the label's
        typed = _words(" ".join(raw[:k]))
        for stance, names in options:
            if any(typed == _words(name) for name in names if _words(name)):
                best.setdefault(k, set()).add(stance)
    if not best:
        return None
    longest = max(best)
    if len(best[longest]) > 1:
        return None
    return best[longest].pop(), _after(rest, longest)


def _after(text: str, words: int) -> str:
    """``text`` without its first ``words`` words, its own line breaks kept."""
    parts = re.split(r"\s+", text.strip(), maxsplit=words)
    return parts[words].strip() if len(parts) > words else ""
