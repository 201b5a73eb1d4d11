"""Round summaries: tallies, per-argument votes, opinion groups, themes, exports and charts.

:func:`build_summary` turns the raw data of a closed round (a
:class:`~bot.summary.model.RoundData`, collected by the engine, with participants already
replaced by opaque per-summary aliases) into the published summary: a
:class:`~bot.summary.model.Summary`, JSON-ready, stored once and rendered by every export
format (its schema is documented in ``docs/summary-schema.md``).

Nothing in it can be traced back to a participant: aliases and argument database ids are
dropped, arguments are shuffled (their numbers are random already), opinion-map points carry
no identifier, and any breakdown drawn from fewer than ``min_group_size`` people is withheld —
including a breakdown that could be obtained by subtracting published figures from each other.

The rule, as an attacker holding every export at once would test it: every published figure is
computed from *published cells* only — all the people who took a position, all the voters of
an argument, a published opinion group, a published group's voters on an argument — each of at
least ``min_group_size`` people; and the people a difference of published figures isolates
(the voters left outside the published groups, overall or on one argument) are either nobody
or at least ``min_group_size`` people. Hence:

* an opinion group smaller than the threshold is not listed at all (its existence, with the
  number of such groups, would bound its size), and if the people in withheld groups are
  fewer than the threshold, the smallest published groups are withheld with them until they
  are not (:func:`_published_groups`): otherwise the number of clustered participants minus
  the published sizes would be the small group's size;
* a group's share on an argument is withheld when the argument's voters outside the
  published shares would be 1 to threshold − 1 people (:func:`_group_shares`);
* consensus scores, divisiveness and representative arguments are recomputed over the
  published groups' published cells only (:func:`_publish_group_figures`), never over the
  analysis's own groups, which include the withheld ones;
* the opinion map shows the published groups' members only;
* consensus arguments must have been voted on by every published group
  (:func:`_seen_by_every_group`);
* the common-ground list (:mod:`bot.summary.bridging`) is fitted on every vote, like the
  overall counts, and publishes arguments' figures only, rounded, for arguments whose counts
  are published, and nothing when fewer than the threshold cast an agree or disagree vote
  (:func:`_common_ground`).

How many people took part, voted, voted on an argument or were placed on the map by the
analysis (which only depends on how many votes each cast) is participation, not opinion: those
counts are published whatever their size.
"""

from __future__ import annotations

import logging
import random
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.summary.model import (
    Analysis,
    ArgumentRow,
    CarriedOver,
    CommonGround,
    Consensus,
    Group,
    MapPoint,
    PublishedArgument,
    Representative,
    Reproducibility,
    RoundData,
    Summary,
    TallyRow,
    TopArguments,
)
from bot.summary.themes import THEMES_VERSION, extract_themes

if TYPE_CHECKING:
    from bot.summary.analysis import AnalysisResult

log = logging.getLogger(__name__)

# 3: withheld opinion groups are no longer listed, the map holds the published groups' members
# only, and consensus scores, divisive and representative arguments are computed over the
# published groups only.
# 4: `analysis.common_ground` (the bridging ranking, bot.summary.bridging) and
# `reproducibility.bridging_version`; consensus arguments need votes from every published group.
# 5: "most supported" lists only arguments a majority of at least TOP_MIN_VOTERS voters agreed
# with, and arguments whose author took no stance (`stance: null`); a representative argument
# carries its group's counts (`voters`, `agree`, `disagree`).
# 6: `carried_over`: how agreement moved on the arguments carried over from the previous round
# (`follow_up`); those arguments are left out of "most supported" (they have no author).
SUMMARY_SCHEMA_VERSION = 6
TOP_PER_STANCE = 3
# "Most supported" needs this many voters on the argument (and never fewer than min_group_size,
# below which its counts are withheld), a strict majority of whom agreed.
TOP_MIN_VOTERS = 5
# Consensus across groups needs this many votes on the argument from each published group
# (every member's, in a smaller group): Polis's formula over all voters would otherwise call
# "consensus" an argument that one group never saw.
CONSENSUS_MIN_GROUP_VOTES = 5
MAX_COMMON_GROUND = 5  # arguments listed as common ground, best first (as many as consensus)
BRIDGING_DECIMALS = 2  # published precision of an argument's bridging intercept and factor
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


def build_summary(data: RoundData) -> Summary:
    """The published summary of one round (see ``docs/summary-schema.md``)."""
    min_size = int(data["min_group_size"])
    seed = int(data.get("seed", 0))
    positions: dict[str, str] = data["positions"]
    stances: list[str] = list(data["stances"])
    labels: dict[str, str] = data.get("stance_labels", {})
    arguments, votes = _visible_votes(data)
    people = set(positions) | _authors(data) | {v[1] for v in votes}
    tally_visible = len(positions) >= min_size
    analysis, assignment_label = _analysis(votes, min_size, seed)
    per_arg = _count_votes(votes, assignment_label)
    group_labels = [g["label"] for g in analysis["groups"]] if analysis is not None else []
    shares = {n: _group_shares(c, group_labels, min_size) for n, c in per_arg.items()}
    gac: dict[int, float] = {}
    bridging_version = None
    if analysis is not None:
        gac = _publish_group_figures(analysis, per_arg, shares, group_labels, min_size)
        analysis["common_ground"], bridging_version = _common_ground(
            votes, per_arg, min_size, seed
        )
    published = [
        _published_argument(
            arg,
            per_arg[int(arg["number"])],
            positions if tally_visible else {},
            shares.get(int(arg["number"]), dict.fromkeys(group_labels)) if group_labels else {},
            gac.get(int(arg["number"])),
            min_size,
        )
        for arg in arguments
    ]
    unlisted = set(analysis["divisive"] if analysis else []) | _carried_numbers(arguments)
    top = _top_arguments(published, stances if tally_visible else [], labels, unlisted)
    # Submission order could be matched against chat activity: publish in a random order.
    random.SystemRandom().shuffle(published)
    hidden = len(data["arguments"]) - len(arguments)
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "round": data["round"],
        "language": data["language"],
        "min_group_size": min_size,
        "stances": [{"stance": s, "label": labels.get(s, s)} for s in stances],
        "participants": len(people),
        "positions": len(positions),
        "tally": _tally(positions, stances, labels) if tally_visible else None,
        "arguments": published,
        "hidden_arguments": hidden,
        "votes": len(votes),
        "vote_sign": dict(VOTE_SIGN),
        "top_arguments": top,
        "carried_over": _carried_over(arguments, per_arg, min_size),
        "themes": extract_themes([(int(a["number"]), str(a["text"])) for a in arguments]),
        "analysis": analysis,
        "reproducibility": _reproducibility(
            analysis, bridging_version, seed, people, positions, len(arguments), hidden, votes
        ),
    }


def _visible_votes(data: RoundData) -> tuple[list[ArgumentRow], list[tuple[int, str, int]]]:
    """The arguments not hidden by moderators, and the votes on them as (argument number,
    voter alias, value): argument database ids stop here."""
    arguments = [a for a in data["arguments"] if not a["hidden"]]
    number_of = {a["id"]: int(a["number"]) for a in arguments}
    votes = [
        (number_of[int(v[0])], str(v[1]), int(v[2])) for v in data["votes"] if v[0] in number_of
    ]
    return arguments, votes


def _authors(data: RoundData) -> set[str]:
    """The aliases of the arguments' authors: a carried-over argument is nobody's."""
    return {a["author"] for a in data["arguments"] if "carried_over" not in a}


def _carried_numbers(arguments: list[ArgumentRow]) -> set[int]:
    """The numbers of the arguments carried over from an earlier round: nobody's, so they
    have no stance and are not "most supported"; their own section lists them."""
    return {int(a["number"]) for a in arguments if "carried_over" in a}


def _carried_over(
    arguments: list[ArgumentRow], per_arg: dict[int, _Counts], min_size: int
) -> list[CarriedOver]:
    """How agreement moved on each visible argument carried over from an earlier round, by
    number: its support there, as that round's summary published it, and here, withheld
    below ``max(TOP_MIN_VOTERS, min_size)`` voters (the "most supported" minimum)."""
    needed = max(TOP_MIN_VOTERS, min_size)
    out: list[CarriedOver] = []
    for arg in arguments:
        origin = arg.get("carried_over")
        if origin is None:
            continue
        counted = per_arg[int(arg["number"])]
        then_agree = origin["agree"]
        out.append(
            {
                "number": int(arg["number"]),
                "round": origin["round"],
                "round_number": int(origin["number"]),
                "listed_as": origin["listed_as"],
                "votes_then": int(origin["votes"]),
                "support_then": (
                    _share(then_agree, origin["votes"]) if then_agree is not None else None
                ),
                "votes_now": counted.voters,
                "support_now": (
                    _share(counted.overall[0], counted.voters)
                    if counted.voters >= needed
                    else None
                ),
            }
        )
    return sorted(out, key=lambda c: c["number"])


def _reproducibility(
    analysis: Analysis | None,
    bridging_version: str | None,
    seed: int,
    people: set[str],
    positions: dict[str, str],
    arguments: int,
    hidden: int,
    votes: list[tuple[int, str, int]],
) -> Reproducibility:
    """What it takes to rerun the summary's analyses and check its counts."""
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "analysis_version": analysis["analysis_version"] if analysis else None,
        "bridging_version": bridging_version,
        "themes_version": THEMES_VERSION,
        "seed": seed,
        "participants": len(people),
        "positions": len(positions),
        "arguments": arguments,
        "hidden_arguments": hidden,
        "votes": len(votes),
        "voters": len({v[1] for v in votes}),
        "participants_clustered": analysis["participants_clustered"] if analysis else 0,
    }


def _tally(
    positions: dict[str, str], stances: list[str], labels: dict[str, str]
) -> list[TallyRow]:
    """How many people took each stance, and their share of all positions."""
    counts = Counter(positions.values())
    return [
        {
            "stance": s,
            "label": labels.get(s, s),
            "count": counts.get(s, 0),
            "share": _share(counts.get(s, 0), len(positions)),
        }
        for s in stances
    ]


def _count_votes(
    votes: list[tuple[int, str, int]], assignment_label: dict[str, str]
) -> dict[int, _Counts]:
    """Each argument's counts, overall and per published-group cell."""
    per_arg: dict[int, _Counts] = defaultdict(_Counts)
    for number, voter, value in votes:
        counted = per_arg[number]
        counted.overall[_CELL[value]] += 1
        cell = counted.cells.setdefault(assignment_label.get(voter), [0, 0, 0])
        cell[_CELL[value]] += 1
    return per_arg


def _published_argument(
    arg: ArgumentRow,
    counted: _Counts,
    stance_of: dict[str, str],
    shares: dict[str, dict[str, float] | None],
    consensus_score: float | None,
    min_size: int,
) -> PublishedArgument:
    """One argument as published: counts and support withheld below ``min_size`` voters.

    ``stance_of`` is empty when the tally is withheld (the author's stance is then too), and
    ``shares`` is empty when no group is published.
    """
    agree, disagree, passed = counted.overall
    voters = counted.voters
    shown = voters >= min_size
    return {
        "number": int(arg["number"]),
        "text": arg["text"],
        "stance": stance_of.get(arg["author"]),
        "votes": voters,
        "agree": agree if shown else None,
        "disagree": disagree if shown else None,
        "pass": passed if shown else None,
        "votes_published": shown,
        "support": _share(agree, voters) if shown else None,
        "groups": {label: (share["agree"] if share else None) for label, share in shares.items()},
        "consensus_score": consensus_score,
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
    published: list[PublishedArgument],
    stances: list[str],
    labels: dict[str, str],
    unlisted: set[int],
) -> list[TopArguments]:
    """Per stance of the author, the most supported arguments (:func:`_supported`), best
    agree share among voters first (ties: more votes), at most :data:`TOP_PER_STANCE`.

    The ``unlisted`` arguments are not: those listed as divisive (their majority is one
    group's, which "what divides" says, and the same argument under both headings would
    contradict itself) and those carried over from an earlier round (nobody's: no stance).

    Every stance has its entry, even empty; the arguments of authors who took no stance (or
    all of them, when ``stances`` is empty because the tally is withheld) come last, under
    ``stance: null``, when there are any.
    """

    def ranked(stance: str | None) -> list[int]:
        found = sorted(
            (
                a
                for a in published
                if a["stance"] == stance and _supported(a) and a["number"] not in unlisted
            ),
            key=lambda a: (-(a["agree"] or 0) / a["votes"], -a["votes"], a["number"]),
        )
        return [a["number"] for a in found[:TOP_PER_STANCE]]

    if not any(a["votes"] for a in published):
        return []  # nobody voted: nothing to rank
    out: list[TopArguments] = [
        {"stance": s, "label": labels.get(s, s), "arguments": ranked(s)} for s in stances
    ]
    without = ranked(None)
    if without:
        out.append({"stance": None, "label": None, "arguments": without})
    return out


def _supported(argument: PublishedArgument) -> bool:
    """Whether a strict majority of the argument's voters agreed, with at least
    :data:`TOP_MIN_VOTERS` voters and its counts published."""
    agree = argument["agree"] or 0
    return (
        argument["votes_published"]
        and argument["votes"] >= TOP_MIN_VOTERS
        and 2 * agree > argument["votes"]
    )


def _published_groups(sizes: list[int], min_size: int) -> set[int]:
    """Indexes of the groups whose description may be published.

    A group of fewer than ``min_size`` people is withheld. The number of clustered
    participants is published (it only depends on how many votes each cast), so the published
    sizes must leave out either nobody or at least ``min_size`` people: while the people in
    withheld groups are fewer than that, the smallest published group is withheld too
    (secondary suppression; on a tie, the later group).
    """
    published = {i for i, size in enumerate(sizes) if size >= min_size}
    withheld = sum(size for i, size in enumerate(sizes) if i not in published)
    while 0 < withheld < min_size and published:
        smallest = min(published, key=lambda i: (sizes[i], -i))
        published.remove(smallest)
        withheld += sizes[smallest]
    return published


def _analysis(
    votes: list[tuple[int, str, int]], min_size: int, seed: int
) -> tuple[Analysis | None, dict[str, str]]:
    """Opinion groups of the voters, and the published group label of each voter.

    Returns the analysis section (its statement lists still to be filled in by
    :func:`_publish_group_figures`) and ``{alias: label}`` for members of published groups;
    the mapping is used for counting only and never leaves this module.
    """
    result = _run_analysis(votes, seed)
    if result is None:
        return None, {}
    found = sorted(result.groups, key=lambda g: g.id)
    kept = _published_groups([int(g.size) for g in found], min_size)
    groups: list[Group] = []
    labels: dict[int, str] = {}
    # Published groups are numbered and lettered without gaps: a gap would tell that a
    # withheld group sat there.
    for index, group in enumerate(g for i, g in enumerate(found) if i in kept):
        label = group_label(index)
        labels[int(group.id)] = label
        groups.append(
            {
                "id": index,
                "label": label,
                "published": True,
                "size": int(group.size),
                "centre": [round(float(c), 4) for c in group.centre],
                "representative": [],
            }
        )
    assignment_label = {
        str(p): labels[int(g)] for p, g in result.assignments.items() if int(g) in labels
    }
    analysis: Analysis = {
        "analysis_version": str(result.analysis_version),
        "seed": int(result.seed),
        "participants": int(result.participants),
        "participants_clustered": int(result.participants_clustered),
        "statements": int(result.statements),
        "votes": int(result.votes),
        "groups": groups,
        "consensus": {"agree": [], "disagree": []},
        "common_ground": [],
        "divisive": [],
        "map": _map_points(result, assignment_label),
    }
    return analysis, assignment_label


def _run_analysis(votes: list[tuple[int, str, int]], seed: int) -> AnalysisResult | None:
    """The opinion-group analysis of the votes, or None when nobody voted or it failed."""
    if not votes:
        return None
    try:
        from bot.summary.analysis import Vote, analyze

        # The analysis follows the order of the vote stream (Polis's first-appearance order):
        # feed it an order that depends on the votes only, not on when they were cast.
        stream = sorted(votes, key=lambda v: (v[0], v[1]))
        return analyze(
            [Vote(voter, str(number), value) for number, voter, value in stream], seed=seed
        )
    except Exception:
        # A summary without opinion groups is better than no summary at all.
        log.exception("opinion-group analysis failed; publishing the summary without it")
        return None


def _map_points(result: AnalysisResult, assignment_label: dict[str, str]) -> list[MapPoint]:
    """The opinion map: the published groups' members only, each with its group's label.

    The others' points would show where a withheld group sits and, counted, its size. Sorted,
    not keyed: a crowd, not people. The map's axes are fitted on every voter's votes, as the
    overall counts are.
    """
    return [
        [x, y, label]
        for label, x, y in sorted(
            (assignment_label[str(who)], round(float(x), 4), round(float(y), 4))
            for who, (x, y) in result.coords.items()
            if str(who) in assignment_label
        )
    ]


def _seen_by_every_group(counted: _Counts, sizes: dict[str, int], min_size: int) -> bool:
    """Whether every published group cast enough votes on the argument to take part in a
    consensus "across groups": :data:`CONSENSUS_MIN_GROUP_VOTES` (passes count: the member
    saw it), or every member's vote in a smaller group, and never fewer than ``min_size``.

    Polis's consensus is computed over all the voters of an argument: without this, an
    argument that only one group saw, and agreed with, would be called consensus. With no
    group published there is no group to ask, and Polis's rule stands alone.
    """
    needed = max(CONSENSUS_MIN_GROUP_VOTES, min_size)
    return all(
        sum(counted.cells.get(label, [0, 0, 0])) >= min(needed, size)
        for label, size in sizes.items()
    )


def _bridging_figure(value: float) -> float:
    """An argument's bridging intercept or factor as published (never ``-0.0``)."""
    return round(value, BRIDGING_DECIMALS) + 0.0


def _common_ground(
    votes: list[tuple[int, str, int]], per_arg: dict[int, _Counts], min_size: int, seed: int
) -> tuple[list[CommonGround], str | None]:
    """The common-ground arguments (:mod:`bot.summary.bridging`), as published, and the
    version of the model (``None`` when it could not run).

    The model is fitted on every agree or disagree vote of the round, like each argument's
    overall counts, and only arguments' figures are published, never a voter's: nothing at
    all when fewer than ``min_size`` people cast such a vote, and only for arguments with at
    least ``min_size`` such votes (their counts are published). Each published figure then
    describes an argument's whole electorate, as its support does; none is computed over a
    part of it (a group, a side), so no difference of published figures isolates anyone. The
    figures are rounded (:data:`BRIDGING_DECIMALS`): the fit can be rerun on candidate vote
    tables, and full precision would help match a small round's table.
    """
    try:
        from bot.summary.analysis import Vote
        from bot.summary.bridging import BRIDGING_VERSION, MIN_VOTES, BridgingConfig, fit_bridging

        result = fit_bridging(
            [Vote(voter, str(number), value) for number, voter, value in votes],
            seed=seed,
            config=BridgingConfig(min_votes=max(MIN_VOTES, min_size)),
        )
    except Exception:
        # A summary without common ground is better than no summary at all.
        log.exception("bridging ranking failed; publishing the summary without it")
        return [], None
    if result.raters < min_size:
        return [], BRIDGING_VERSION
    listed: list[CommonGround] = []
    for name in result.common_ground:
        fit = result.arguments[name]
        number = int(name)
        # Already implied by the gate on votes (agree and disagree votes are voters): the
        # rule is stated where the figures are published.
        if fit.votes < min_size or per_arg[number].voters < min_size:
            continue
        listed.append(
            {
                "number": number,
                "intercept": _bridging_figure(fit.intercept),
                "factor": _bridging_figure(fit.factor),
                "votes": fit.votes,
            }
        )
    return listed[:MAX_COMMON_GROUND], BRIDGING_VERSION


def _publish_group_figures(
    analysis: Analysis,
    per_arg: dict[int, _Counts],
    shares: dict[int, dict[str, dict[str, float] | None]],
    group_labels: list[str],
    min_size: int,
) -> dict[int, float]:
    """Fill in the analysis's statement lists from published cells only; return the
    consensus score of each argument that has one.

    The analysis computed consensus scores, divisiveness and representative arguments over all
    its groups, the withheld ones included: a published group-aware consensus score divided
    by the published groups' factors would give a withheld group's agree rate, and each
    group's representative arguments compare it with "the other groups". So all three are
    recomputed here, Polis's way (:func:`bot.summary.analysis.statement_stats`), over the
    published groups and only the arguments on which every published group's share is
    published: each figure then rests on cells of at least ``min_size`` people that are
    published anyway. Consensus arguments are Polis's over all voters of an argument, ranked
    among the arguments whose counts are published and that every published group voted on
    (:func:`_seen_by_every_group`) only: an argument left out must not push another out of
    the top five.
    """
    import numpy as np

    from bot.summary.analysis import statement_stats

    countable = sorted(n for n, c in per_arg.items() if c.voters >= min_size)
    analysis["consensus"] = _consensus(analysis, per_arg, countable, min_size)
    # The arguments on which every published group's share is published, with those shares.
    complete: dict[int, dict[str, dict[str, float]]] = {}
    for n in countable:
        published = {label: share for label, share in shares[n].items() if share is not None}
        if group_labels and len(published) == len(group_labels):
            complete[n] = published
    if not complete:
        return {}
    cells = np.array(
        [[per_arg[n].cells.get(label, [0, 0, 0]) for n in complete] for label in group_labels],
        dtype=np.float64,
    )
    stats = statement_stats(
        [str(n) for n in complete], cells[:, :, 0], cells[:, :, 1], cells.sum(axis=2)
    )
    for group, reps in zip(analysis["groups"], stats.representative, strict=True):
        group["representative"] = [
            _representative(
                int(rep.statement), str(rep.direction), group["label"], per_arg, complete
            )
            for rep in reps
        ]
    analysis["divisive"] = [int(n) for n in stats.divisive]
    _apart_from_divisive(analysis)
    return {int(n): round(v, 4) for n, v in stats.group_aware_consensus.items()}


def _apart_from_divisive(analysis: Analysis) -> None:
    """An argument that divides the groups is not also listed as agreed or rejected by all.

    The two lists come from different measures (the consensus from all voters' rates, what
    divides from the groups' differences) and can both name an argument; where they do, the
    groups' shares show what divides, so it stays there only.
    """
    divided = set(analysis["divisive"])
    consensus = analysis["consensus"]
    consensus["agree"] = [n for n in consensus["agree"] if n not in divided]
    consensus["disagree"] = [n for n in consensus["disagree"] if n not in divided]


def _representative(
    number: int,
    direction: str,
    label: str,
    per_arg: dict[int, _Counts],
    complete: dict[int, dict[str, dict[str, float]]],
) -> Representative:
    """A group's representative argument, with its shares and the counts they are drawn
    from: counts inside a published cell (the group's share on it is published, so the cell
    holds at least min_group_size voters)."""
    cell = per_arg[number].cells.get(label, [0, 0, 0])
    return {
        "number": number,
        "direction": direction,
        "agree_share": complete[number][label]["agree"],
        "disagree_share": complete[number][label]["disagree"],
        "voters": sum(cell),
        "agree": cell[0],
        "disagree": cell[1],
    }


def _consensus(
    analysis: Analysis, per_arg: dict[int, _Counts], countable: list[int], min_size: int
) -> Consensus:
    """Polis's consensus arguments, among the ``countable`` ones (counts published) that
    every published group voted on (:func:`_seen_by_every_group`)."""
    import numpy as np

    from bot.summary.analysis import consensus_statements

    sizes = {g["label"]: int(g["size"]) for g in analysis["groups"]}
    seen_by_all = [n for n in countable if _seen_by_every_group(per_arg[n], sizes, min_size)]
    overall = np.array([per_arg[n].overall for n in seen_by_all], dtype=np.float64)
    overall = overall.reshape(-1, 3)
    found = consensus_statements(
        [str(n) for n in seen_by_all], overall[:, 0], overall[:, 1], overall.sum(axis=1)
    )
    return {
        "agree": [int(n) for n in found["agree"]],
        "disagree": [int(n) for n in found["disagree"]],
    }
