"""Round summaries: tallies, per-argument votes, opinion groups, themes, exports and charts.

:func:`build_summary` turns the raw data of a closed round (collected by the engine, with
participants already replaced by opaque per-summary aliases) into the published summary: a
JSON-ready dict that is stored once and rendered by every export format (its schema is
documented in ``docs/summary-schema.md``).

Nothing in it can be traced back to a participant: aliases and argument database ids are
dropped, arguments are shuffled (their numbers are random already), opinion-map points carry
no identifier, and any breakdown drawn from fewer than ``min_group_size`` people is withheld —
including a breakdown that could be obtained by subtracting published figures from each other
(see :func:`_group_shares`).
"""

from __future__ import annotations

import logging
import random
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bot.summary.themes import THEMES_VERSION, extract_themes

log = logging.getLogger(__name__)

SUMMARY_SCHEMA_VERSION = 2
TOP_PER_STANCE = 3
VOTE_SIGN = {"agree": 1, "disagree": -1, "pass": 0}
_CELL = {1: 0, -1: 1, 0: 2}  # vote value -> index in an [agree, disagree, pass] triple


def _share(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def group_label(index: int) -> str:
    """Groups are shown as A, B, C… (as Polis does), in the analysis's group order."""
    letters = string.ascii_uppercase
    return letters[index] if index < len(letters) else f"G{index + 1}"


@dataclass
class _Counts:
    """Agree/disagree/pass counts of one argument, overall and per opinion-group cell."""

    overall: list[int] = field(default_factory=lambda: [0, 0, 0])
    # Cell key: a published group's label, or None for everyone else who voted.
    cells: dict[str | None, list[int]] = field(default_factory=dict)

    @property
    def voters(self) -> int:
        return sum(self.overall)


def build_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The published summary of one round (see ``docs/summary-schema.md``)."""
    min_size = int(data["min_group_size"])
    seed = int(data.get("seed", 0))
    positions: dict[str, str] = data["positions"]
    stances: list[str] = list(data["stances"])
    labels: dict[str, str] = data.get("stance_labels", {})
    arguments = [a for a in data["arguments"] if not a["hidden"]]
    number_of = {a["id"]: int(a["number"]) for a in arguments}
    votes = [(number_of[v[0]], str(v[1]), int(v[2])) for v in data["votes"] if v[0] in number_of]
    people = set(positions) | {a["author"] for a in data["arguments"]} | {v[1] for v in votes}
    tally_visible = len(positions) >= min_size
    counts = Counter(positions.values())
    tally = (
        [
            {
                "stance": s,
                "label": labels.get(s, s),
                "count": counts.get(s, 0),
                "share": _share(counts.get(s, 0), len(positions)),
            }
            for s in stances
        ]
        if tally_visible
        else None
    )

    analysis, assignment_label = _analysis(votes, min_size, seed)
    per_arg: dict[int, _Counts] = defaultdict(_Counts)
    for number, voter, value in votes:
        counted = per_arg[number]
        counted.overall[_CELL[value]] += 1
        cell = counted.cells.setdefault(assignment_label.get(voter), [0, 0, 0])
        cell[_CELL[value]] += 1
    group_labels = (
        [g["label"] for g in analysis["groups"] if g["published"]] if analysis is not None else []
    )
    shares = {
        number: _group_shares(counted, group_labels, min_size)
        for number, counted in per_arg.items()
    }
    gac: dict[int, float] = {}
    if analysis is not None:
        gac = analysis.pop("_gac")
        _publish_analysis_lists(analysis, per_arg, shares, min_size)

    published = []
    for arg in arguments:
        number = int(arg["number"])
        counted = per_arg[number]
        agree, disagree, passed = counted.overall
        voters = counted.voters
        shown = voters >= min_size
        entry: dict[str, Any] = {
            "number": number,
            "text": arg["text"],
            "stance": positions.get(arg["author"]) if tally_visible else None,
            "votes": voters,
            "agree": agree if shown else None,
            "disagree": disagree if shown else None,
            "pass": passed if shown else None,
            "votes_published": shown,
            "support": _share(agree, voters) if shown else None,
            "groups": {
                label: (share["agree"] if share else None)
                for label, share in shares.get(number, dict.fromkeys(group_labels)).items()
            }
            if group_labels
            else {},
            "consensus_score": None,
        }
        if shown and number in gac:
            entry["consensus_score"] = gac[number]
        published.append(entry)
    # Submission order could be matched against chat activity: publish in a random order.
    random.SystemRandom().shuffle(published)

    top = _top_arguments(published, stances, labels) if tally_visible and votes else []
    themes = extract_themes([(int(a["number"]), str(a["text"])) for a in arguments])
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "round": data["round"],
        "language": data["language"],
        "min_group_size": min_size,
        "stances": [{"stance": s, "label": labels.get(s, s)} for s in stances],
        "participants": len(people),
        "positions": len(positions),
        "tally": tally,
        "arguments": published,
        "hidden_arguments": len(data["arguments"]) - len(arguments),
        "votes": len(votes),
        "vote_sign": dict(VOTE_SIGN),
        "top_arguments": top,
        "themes": themes,
        "analysis": analysis,
        "reproducibility": {
            "schema_version": SUMMARY_SCHEMA_VERSION,
            "analysis_version": analysis["analysis_version"] if analysis else None,
            "themes_version": THEMES_VERSION,
            "seed": seed,
            "participants": len(people),
            "positions": len(positions),
            "arguments": len(arguments),
            "hidden_arguments": len(data["arguments"]) - len(arguments),
            "votes": len(votes),
            "voters": len({v[1] for v in votes}),
            "participants_clustered": analysis["participants_clustered"] if analysis else 0,
        },
    }


def _group_shares(
    counted: _Counts, group_labels: list[str], min_size: int
) -> dict[str, dict[str, float] | None]:
    """Agree/disagree shares of each published group on one argument, or None where withheld.

    A group's share is published only when that group has at least ``min_size`` voters on the
    argument. Since the argument's overall counts are published too, the withheld remainder
    (voters outside the published groups, plus any group whose share is withheld) could be
    recovered by subtraction: when it holds between 1 and ``min_size - 1`` people, every group
    share of the argument is withheld.
    """
    if not group_labels:
        return {}
    if counted.voters < min_size:
        return dict.fromkeys(group_labels)
    out: dict[str, dict[str, float] | None] = {}
    remainder = sum(counted.cells.get(None, [0, 0, 0]))
    for label in group_labels:
        cell = counted.cells.get(label, [0, 0, 0])
        voters = sum(cell)
        if voters >= min_size:
            out[label] = {"agree": _share(cell[0], voters), "disagree": _share(cell[1], voters)}
        else:
            out[label] = None
            remainder += voters
    if 0 < remainder < min_size:
        return dict.fromkeys(group_labels)
    return out


def _top_arguments(
    published: list[dict[str, Any]], stances: list[str], labels: dict[str, str]
) -> list[dict[str, Any]]:
    """Per stance, the arguments with the highest agree share among voters (ties: more votes).

    Only arguments whose counts are published and that someone agreed with: an argument
    nobody supports is not "most supported", however few arguments its stance has.
    """
    out = []
    for stance in stances:
        ranked = sorted(
            (
                a
                for a in published
                if a["stance"] == stance and a["votes_published"] and a["agree"] > 0
            ),
            key=lambda a: (-a["agree"] / a["votes"], -a["votes"], a["number"]),
        )
        out.append(
            {
                "stance": stance,
                "label": labels.get(stance, stance),
                "arguments": [a["number"] for a in ranked[:TOP_PER_STANCE]],
            }
        )
    return out


def _analysis(
    votes: list[tuple[int, str, int]], min_size: int, seed: int
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Opinion groups of the voters, and the published group label of each voter.

    Returns the (not yet filtered) analysis section and ``{alias: label}`` for members of
    published groups; the mapping is used for counting only and never leaves this module.
    """
    if not votes:
        return None, {}
    try:
        from bot.summary.analysis import Vote, analyze

        # The analysis follows the order of the vote stream (Polis's first-appearance order):
        # feed it an order that depends on the votes only, not on when they were cast.
        stream = sorted(votes, key=lambda v: (v[0], v[1]))
        result = analyze(
            [Vote(voter, str(number), value) for number, voter, value in stream], seed=seed
        )
    except Exception:
        # A summary without opinion groups is better than no summary at all.
        log.exception("opinion-group analysis failed; publishing the summary without it")
        return None, {}
    groups = []
    labels: dict[int, str] = {}
    for index, group in enumerate(sorted(result.groups, key=lambda g: g.id)):
        label = group_label(index)
        visible = int(group.size) >= min_size
        if visible:
            labels[int(group.id)] = label
        groups.append(
            {
                "id": int(group.id),
                "label": label,
                "published": visible,
                "size": int(group.size) if visible else None,
                "centre": [round(float(c), 4) for c in group.centre] if visible else None,
                "representative": [
                    {"number": int(rep.statement), "direction": str(rep.direction)}
                    for rep in group.representative
                ]
                if visible
                else [],
            }
        )
    assignment_label = {
        str(p): labels[int(g)] for p, g in result.assignments.items() if int(g) in labels
    }
    map_points: list[list[Any]] = []
    if result.participants_clustered >= min_size:
        # Sorted, not keyed: the map shows a crowd, not people.
        map_points = [
            list(p)
            for p in sorted(
                (
                    (round(float(x), 4), round(float(y), 4), assignment_label.get(str(who)))
                    for who, (x, y) in result.coords.items()
                ),
                key=lambda p: (p[2] or "~", p[0], p[1]),
            )
        ]
    analysis: dict[str, Any] = {
        "analysis_version": str(result.analysis_version),
        "seed": int(result.seed),
        "participants": int(result.participants),
        "participants_clustered": int(result.participants_clustered),
        "statements": int(result.statements),
        "votes": int(result.votes),
        "groups": groups,
        "consensus": {
            "agree": [int(s) for s in result.consensus.get("agree", [])],
            "disagree": [int(s) for s in result.consensus.get("disagree", [])],
        },
        "divisive": [int(s) for s in result.divisive],
        "map": map_points,
        "_gac": {int(s): round(float(v), 4) for s, v in result.group_aware_consensus.items()},
    }
    return analysis, assignment_label


def _publish_analysis_lists(
    analysis: dict[str, Any],
    per_arg: dict[int, _Counts],
    shares: dict[int, dict[str, dict[str, float] | None]],
    min_size: int,
) -> None:
    """Drop from the analysis every statement whose mention would reveal fewer than
    ``min_size`` people's votes, and attach each group's shares to its representatives."""

    def published(number: int) -> bool:
        return per_arg[number].voters >= min_size if number in per_arg else False

    for group in analysis["groups"]:
        if not group["published"]:
            continue
        label = group["label"]
        kept = []
        for rep in group["representative"]:
            cell = per_arg[rep["number"]].cells.get(label) if rep["number"] in per_arg else None
            # The direction alone tells how the group leans: it needs min_size voters too.
            if cell is None or sum(cell) < min_size:
                continue
            share = shares.get(rep["number"], {}).get(label)
            rep["agree_share"] = share["agree"] if share else None
            rep["disagree_share"] = share["disagree"] if share else None
            kept.append(rep)
        group["representative"] = kept
    consensus = analysis["consensus"]
    consensus["agree"] = [n for n in consensus["agree"] if published(n)]
    consensus["disagree"] = [n for n in consensus["disagree"] if published(n)]
    visible_groups = sum(1 for g in analysis["groups"] if g["published"])
    analysis["divisive"] = (
        [n for n in analysis["divisive"] if published(n)] if visible_groups > 1 else []
    )
