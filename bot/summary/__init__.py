"""Round summaries: tallies, per-argument votes, opinion groups, exports and charts.

:func:`build_summary` turns the raw data of a closed round (collected by the engine, with
participants already replaced by opaque per-summary aliases) into the published summary: a
JSON-ready dict that is stored once and rendered by every export format. Nothing in it can be
traced back to a participant: aliases are dropped, arguments are shuffled, and any breakdown
drawn from fewer than ``min_group_size`` people is withheld.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

SUMMARY_SCHEMA_VERSION = 1


def build_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The published summary of one round (see ``docs/summary-schema.md``)."""
    min_size = int(data["min_group_size"])
    positions: dict[str, str] = data["positions"]
    stances: list[str] = data["stances"]
    arguments = [a for a in data["arguments"] if not a["hidden"]]
    visible_ids = {a["id"] for a in arguments}
    votes = [v for v in data["votes"] if v[0] in visible_ids]
    people = set(positions) | {a["author"] for a in data["arguments"]} | {v[1] for v in votes}
    participants = len(people)
    tally_visible = len(positions) >= min_size
    counts = Counter(positions.values())
    tally = (
        [
            {
                "stance": s,
                "label": data["stance_labels"].get(s, s),
                "count": counts.get(s, 0),
                "share": round(100 * counts.get(s, 0) / len(positions), 1),
            }
            for s in stances
        ]
        if tally_visible
        else None
    )
    per_arg: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    voters_per_arg: dict[int, int] = defaultdict(int)
    for arg_id, _voter, value in votes:
        per_arg[arg_id][{1: 0, -1: 1, 0: 2}[int(value)]] += 1
        voters_per_arg[arg_id] += 1
    published = []
    for arg in arguments:
        agree, disagree, passed = per_arg[arg["id"]]
        voters = voters_per_arg[arg["id"]]
        shown = voters >= min_size
        published.append(
            {
                "number": arg["number"],
                "text": arg["text"],
                "stance": positions.get(arg["author"]) if tally_visible else None,
                "votes": voters,
                "agree": agree if shown else None,
                "disagree": disagree if shown else None,
                "pass": passed if shown else None,
                "votes_published": shown,
            }
        )
    # Submission order could be matched against chat activity: publish in a random order.
    random.SystemRandom().shuffle(published)
    summary: dict[str, Any] = {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "round": data["round"],
        "language": data["language"],
        "min_group_size": min_size,
        "participants": participants,
        "positions": len(positions),
        "tally": tally,
        "arguments": published,
        "hidden_arguments": len(data["arguments"]) - len(arguments),
        "votes": len(votes),
        "vote_sign": {"agree": 1, "disagree": -1, "pass": 0},
        "analysis": None,
    }
    number_of = {a["id"]: a["number"] for a in arguments}
    if votes:
        summary["analysis"] = _analysis(votes, number_of, min_size, int(data.get("seed", 0)))
    return summary


def _analysis(
    votes: list[list[Any]], number_of: dict[int, int], min_size: int, seed: int
) -> dict[str, Any]:
    from bot.summary.analysis import Vote, analyze

    result = analyze(
        [Vote(str(voter), str(number_of[arg_id]), int(value)) for arg_id, voter, value in votes],
        seed=seed,
    )
    groups = []
    for group in result.groups:
        visible = group.size >= min_size
        groups.append(
            {
                "id": group.id,
                "size": group.size if visible else None,
                "published": visible,
                "centre": list(group.centre) if visible else None,
                "representative": [
                    {"number": int(rep.statement), "direction": rep.direction}
                    for rep in group.representative
                ]
                if visible
                else [],
            }
        )
    published_groups = [g for g in groups if g["published"]]
    points = sorted(
        (round(x, 4), round(y, 4)) for x, y in result.coords.values()
    )  # sorted, not keyed: the map shows a crowd, not people
    return {
        "analysis_version": result.analysis_version,
        "seed": result.seed,
        "participants": result.participants,
        "participants_clustered": result.participants_clustered,
        "statements": result.statements,
        "votes": result.votes,
        "groups": groups,
        "consensus": {
            "agree": [int(s) for s in result.consensus.get("agree", [])],
            "disagree": [int(s) for s in result.consensus.get("disagree", [])],
        },
        "divisive": [int(s) for s in result.divisive] if len(published_groups) > 1 else [],
        "map": [list(p) for p in points] if result.participants_clustered >= min_size else [],
    }
