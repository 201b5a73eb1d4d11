"""Follow-up rounds (``follow_up: true``): what a round's summary hands on to the next round.

The next round of such a debate opens with the arguments the previous round's summary showed
as common ground and as what divides, to be voted on again; its own summary then says how
agreement on them moved (``carried_over``, built in :mod:`bot.summary`). Only what the
published summary shows is carried: an argument hidden by moderators is in no summary list,
and "what divides" is shown only with two published groups to compare
(:mod:`bot.summary.sections`). What travels is the argument's text, its number and list in
that summary and its published counts: aggregates, never a voter or an author.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.summary.model import CarriedFrom, Summary
from bot.summary.view import SummaryView

# At most this many of the previous summary's common-ground arguments (best first), and of
# its divisive ones, are carried over.
MAX_CARRIED_COMMON_GROUND = 5
MAX_CARRIED_DIVISIVE = 5


@dataclass(frozen=True)
class Carried:
    """An argument to carry over: its text, and where it comes from."""

    text: str
    origin: CarriedFrom


def carried_arguments(summary: Summary) -> list[Carried]:
    """The arguments a stored summary hands on: its common ground, then what divides (each
    argument once, under the first list that names it)."""
    v = SummaryView(summary)
    picks = [(e["number"], "common_ground") for e in v.common_ground()][:MAX_CARRIED_COMMON_GROUND]
    if len(v.published_groups()) >= 2:  # as the summary shows "what divides"
        picks += [(n, "divisive") for n in v.divisive()][:MAX_CARRIED_DIVISIVE]
    code = str(summary["round"]["code"])
    out: list[Carried] = []
    seen: set[int] = set()
    for number, listed_as in picks:
        arg = v.by_number.get(number)
        if arg is None or number in seen:
            continue
        seen.add(number)
        origin: CarriedFrom = {
            "round": code,
            "number": number,
            "listed_as": listed_as,
            "votes": int(arg["votes"]),
            "agree": arg["agree"],
            "disagree": arg["disagree"],
            "pass": arg["pass"],
        }
        out.append(Carried(str(arg["text"]), origin))
    return out
