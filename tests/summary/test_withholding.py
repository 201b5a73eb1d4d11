"""No published figure isolates fewer than ``min_group_size`` people, even by subtraction.

The planted rounds hold two big opinion camps and a small one that the analysis finds as a
group of its own, too small to publish. Each test reads the round as an attacker holding every
export at once (JSON, Markdown, CSV, HTML, the chat text and what the chart draws) and looks
for a figure that only the small group's members could have produced: its size (directly or
as a sum or difference of two published head counts), its agree rates, a consensus score
computed with it, its members' points on the opinion map. Each check is run once more with
``min_group_size: 1``, where that group is published, to show that the check can fail.
Their agree counts are small integers that any summary is full of: rather than looked for,
they are changed, and no figure about the published groups may move.

The common-ground list (the bridging model, ``bot.summary.bridging``) is scanned with the rest;
its own figures are checked to be what the rule allows: figures of whole arguments with
published counts, never of a voter, identical whether the small group is published or not.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypedDict

import jsonschema
import pytest
from matplotlib.axes import Axes
from planted_round import (
    CON,
    CONSENSUS,
    LATE,
    PRO,
    analysis_of,
    known,
    planted_data,
    planted_with_small_group,
)
from test_exports import documented_schema

import bot.summary.analysis as analysis_module
import bot.summary.bridging as bridging_module
from bot.summary import BRIDGING_DECIMALS, build_summary
from bot.summary.analysis import AnalysisResult, OpinionGroup, Vote, analyze
from bot.summary.bridging import BridgingResult, fit_bridging
from bot.summary.charts import render_chart
from bot.summary.export import (
    render_csv,
    render_html,
    render_json,
    render_markdown,
    render_summary_text,
)
from bot.summary.model import RoundData, Summary


class Scenario(TypedDict, total=False):
    """Arguments of ``planted_with_small_group``."""

    small: int
    camp_a: int
    camp_b: int
    min_group_size: int
    mixed: bool


SCENARIOS: dict[str, Scenario] = {
    # The case of the issue: two contrarians next to camps of 14 and 12, threshold 3.
    "pair": {"small": 2, "min_group_size": 3},
    # Seven members with mixed votes, threshold 8: their agree rates are sevenths (14.3 %,
    # 28.6 %…), which no published group or total of this round can produce, so a leaked
    # rate would show up among the numbers of the exports.
    "seven": {"small": 7, "camp_a": 16, "camp_b": 13, "min_group_size": 8, "mixed": True},
}
NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?")
DATA_URI = re.compile(r'(?:src|srcset)="data:image/png;base64,[^"]*"')


def vote_stream(data: RoundData) -> list[Vote]:
    """The votes exactly as build_summary hands them to the analysis."""
    number_of = {a["id"]: int(a["number"]) for a in data["arguments"] if not a["hidden"]}
    votes = [(number_of[v[0]], str(v[1]), int(v[2])) for v in data["votes"] if v[0] in number_of]
    return [Vote(voter, str(number), value) for number, voter, value in sorted(votes)]


@dataclass
class Truth:
    """What only the small camp's members could produce, computed from the raw data."""

    size: int
    rates: set[float]  # their agree and disagree rates per argument (%), trivial ones left out
    # Group-aware consensus over all groups, theirs included, on the arguments they voted on.
    consensus_with_them: set[float]
    points: set[tuple[float, float]]  # their positions on the opinion map


def small_group_truth(data: RoundData, members: list[str]) -> Truth:
    result = analyze(vote_stream(data), seed=int(data["seed"]))
    group = result.assignments[members[0]]
    # The premise of every test here: the analysis finds the small camp as one group.
    assert {p for p, g in result.assignments.items() if g == group} == set(members)
    assert len(result.groups) == 3
    number_of = {a["id"]: int(a["number"]) for a in data["arguments"] if not a["hidden"]}
    theirs: dict[int, list[int]] = {}
    for arg_id, voter, value in data["votes"]:
        if voter in members and arg_id in number_of:
            theirs.setdefault(number_of[arg_id], []).append(int(value))
    rates = set()
    for values in theirs.values():
        for sign in (1, -1):
            rates.add(round(100 * values.count(sign) / len(values), 1))
    return Truth(
        size=len(members),
        # 0, 50 and 100 % are everywhere in any summary: they identify nobody.
        rates=rates - {0.0, 50.0, 100.0},
        consensus_with_them={
            round(v, 4) for n, v in result.group_aware_consensus.items() if int(n) in theirs
        }
        - {0.0},
        points={(round(result.coords[m][0], 4), round(result.coords[m][1], 4)) for m in members},
    )


class ChartDrawing(TypedDict):
    points: list[tuple[float, float]]
    labelled_at: list[tuple[float, float]]
    texts: list[str]
    bars: list[float]


def chart_drawing(summary: Summary) -> ChartDrawing:
    """What render_chart actually draws: bars, texts, scattered points and annotations."""
    drawn: ChartDrawing = {"points": [], "labelled_at": [], "texts": [], "bars": []}
    scatter, annotate, text, barh = Axes.scatter, Axes.annotate, Axes.text, Axes.barh

    def spy_scatter(self: Axes, x: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        drawn["points"] += [
            (round(float(a), 4), round(float(b), 4)) for a, b in zip(x, y, strict=True)
        ]
        return scatter(self, x, y, *args, **kwargs)

    def spy_annotate(self: Axes, label: str, xy: Any, *args: Any, **kwargs: Any) -> Any:
        drawn["texts"].append(str(label))
        drawn["labelled_at"].append((round(float(xy[0]), 4), round(float(xy[1]), 4)))
        return annotate(self, label, xy, *args, **kwargs)

    def spy_text(self: Axes, x: Any, y: Any, label: str, *args: Any, **kwargs: Any) -> Any:
        drawn["texts"].append(str(label))
        return text(self, x, y, label, *args, **kwargs)

    def spy_barh(self: Axes, labels: Any, widths: Any, *args: Any, **kwargs: Any) -> Any:
        drawn["bars"] += [float(w) for w in widths]
        return barh(self, labels, widths, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Axes, "scatter", spy_scatter)
        patch.setattr(Axes, "annotate", spy_annotate)
        patch.setattr(Axes, "text", spy_text)
        patch.setattr(Axes, "barh", spy_barh)
        render_chart(summary)
    return drawn


def exports(summary: Summary, drawn: ChartDrawing) -> dict[str, str]:
    """Every rendering of the summary as text (the chart as the list of what it draws)."""
    rows = list(csv.reader(io.StringIO(render_csv(summary))))
    return {
        "json": render_json(summary),
        "md": render_markdown(summary),
        # One cell per line: a decimal comma in a French cell is not a column separator.
        "csv": "\n".join(cell for row in rows for cell in row),
        # The inline PNG is the chart, read below from what it draws, not from its bytes.
        "html": DATA_URI.sub("", render_html(summary)),
        "chat": render_summary_text(summary),
        "chart": json.dumps(drawn, ensure_ascii=False),
    }


def numbers_in(text: str) -> set[float]:
    return {float(n.replace(",", ".")) for n in NUMBER.findall(text)}


def json_numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_numbers(item)
    elif isinstance(value, str):
        yield from numbers_in(value)


def head_counts(summary: Summary, drawn: ChartDrawing) -> list[int]:
    """Every published number of people of a nested population, and the chart's.

    Participants ⊇ voters ⊇ clustered ⊇ the published groups: the difference of two of these
    counts (or of a total and the sum of some groups) is the number of people of another
    population. Stance counts are left out: they split the same people another way, and the
    difference of two of them counts nobody in particular.
    """
    repro = summary["reproducibility"]
    analysis = analysis_of(summary)
    counts = [summary["participants"], summary["positions"]]
    counts += [repro[k] for k in ("participants", "positions", "voters", "participants_clustered")]
    counts += [analysis["participants"], analysis["participants_clustered"]]
    sizes = [g["size"] for g in analysis["groups"] if g["size"] is not None]
    for n in range(1, len(sizes) + 1):
        counts += [sum(c) for c in itertools.combinations(sizes, n)]
    points = analysis["map"]
    counts.append(len(points))
    counts += Counter(p[2] for p in points).values()
    counts.append(len(drawn["points"]))
    for text in drawn["texts"]:
        counts += [int(n) for n in re.findall(r"· (\d+) ", text)]  # "A · 14 personnes"
    return counts


def build(name: str, min_group_size: int | None = None) -> tuple[Summary, Truth]:
    params = SCENARIOS[name].copy()
    if min_group_size is not None:
        params["min_group_size"] = min_group_size
    data, members = planted_with_small_group(**params)
    return build_summary(copy.deepcopy(data)), small_group_truth(data, members)


def leaks(summary: Summary, truth: Truth) -> list[str]:
    """Every figure of the summary's exports that gives the small group away."""
    found = []
    drawn = chart_drawing(summary)
    for fmt, text in exports(summary, drawn).items():
        values = set(json_numbers(json.loads(text))) if fmt == "json" else numbers_in(text)
        found += [f"{fmt}: agree or disagree rate {r}" for r in truth.rates & values]
        rounded = {round(v, 4) for v in values}
        found += [f"{fmt}: consensus score {c}" for c in truth.consensus_with_them & rounded]
    mapped = {(float(p[0]), float(p[1])) for p in analysis_of(summary)["map"]}
    found += [f"json: map point {p}" for p in truth.points & mapped]
    found += [f"chart: point {p}" for p in truth.points & set(drawn["points"])]
    found += [f"chart: label at {p}" for p in truth.points & set(drawn["labelled_at"])]
    counts = head_counts(summary, drawn)
    found += [f"head count {c}" for c in counts if c == truth.size]
    for a, b in itertools.combinations(counts, 2):
        if truth.size in (a + b, abs(a - b)):
            found.append(f"head counts {a} and {b}")
    return found


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_export_gives_a_withheld_group_away(name: str) -> None:
    summary, truth = build(name)
    assert summary["analysis"] is not None
    assert not leaks(summary, truth)
    jsonschema.validate(summary, documented_schema(), cls=jsonschema.Draft202012Validator)
    # Not by publishing nothing: the biggest camp is still described.
    groups = analysis_of(summary)["groups"]
    assert groups and all(
        g["published"] and g["size"] >= summary["min_group_size"] for g in groups
    )
    assert any(arg["consensus_score"] is not None for arg in summary["arguments"])
    # The common ground is published, and its figures were among those scanned above.
    assert analysis_of(summary)["common_ground"]
    assert "### Terrain d'entente" in render_markdown(summary)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_same_round_published_in_full_shows_the_small_group(name: str) -> None:
    """The positive control: with a threshold of 1 the small group is published, and the
    checks above find every one of its figures."""
    summary, truth = build(name, min_group_size=1)
    found = "\n".join(leaks(summary, truth))
    assert f"head count {truth.size}" in found
    assert "json: map point" in found and "chart: point" in found
    assert "json: consensus score" in found
    if truth.rates:
        for fmt in ("json", "csv", "html"):
            assert f"{fmt}: agree or disagree rate" in found, fmt
    assert truth.size in [g["size"] for g in analysis_of(summary)["groups"]]


def partition(result: AnalysisResult) -> set[frozenset[str]]:
    return {frozenset(g.members) for g in result.groups}


def group_figures(summary: Summary) -> dict[str, object]:
    """Everything the summary says about its opinion groups, map positions aside (the map's
    axes are fitted on every voter's votes, as the overall counts are)."""
    analysis = analysis_of(summary)
    return {
        "groups": [{k: v for k, v in g.items() if k != "centre"} for g in analysis["groups"]],
        "divisive": analysis["divisive"],
        "map_labels": sorted(Counter(p[2] for p in analysis["map"]).items(), key=str),
        "arguments": sorted(
            (a["number"], sorted(a["groups"].items()), a["consensus_score"])
            for a in summary["arguments"]
        ),
    }


# Changes to the small group's votes that keep everyone in the same group (checked below).
CHANGES: dict[str, Callable[[str, int], int]] = {
    "pair": lambda text, value: 1 if text == CONSENSUS[0] else value,
    "seven": lambda text, value: -value if text in PRO + CON else value,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_withheld_groups_votes_change_no_group_figure(name: str) -> None:
    """Change how the small group voted: the published groups' figures must not move, since
    none may be computed from the withheld people's votes (the overall counts of each
    argument do move: they count every voter, and are published only above the threshold;
    so may the common-ground figures, fitted on every vote as those counts are)."""
    data, members = planted_with_small_group(**SCENARIOS[name])
    changed = copy.deepcopy(data)
    text_of = {a["id"]: a["text"] for a in data["arguments"]}
    for vote in changed["votes"]:
        if vote[1] in members:
            vote[2] = CHANGES[name](text_of[int(vote[0])], int(vote[2]))
    assert changed["votes"] != data["votes"]
    seed = int(data["seed"])
    before, after = analyze(vote_stream(data), seed=seed), analyze(vote_stream(changed), seed=seed)
    assert partition(before) == partition(after)  # the same people in the same groups
    assert group_figures(build_summary(data)) == group_figures(build_summary(changed))


# ---------------------------------------------------------------------------------------
# Groups chosen by hand: the analysis is replaced by one that splits the camps as told.


def regrouped(partition: list[list[str]]) -> Callable[..., AnalysisResult]:
    """An ``analyze`` that returns the real map but the given groups (in this order)."""
    real = analyze

    def fake(votes: list[Vote], seed: int = 0) -> AnalysisResult:
        result = real(votes, seed=seed)
        groups = []
        for gid, members in enumerate(partition):
            xs = [result.coords[m][0] for m in members]
            ys = [result.coords[m][1] for m in members]
            centre = (sum(xs) / len(xs), sum(ys) / len(ys))
            groups.append(OpinionGroup(gid, len(members), list(members), [], centre))
        result.groups = groups
        result.assignments = {m: gid for gid, ms in enumerate(partition) for m in ms}
        result.participants_clustered = len(result.assignments)
        return result

    return fake


def camps(data: RoundData) -> tuple[list[str], list[str]]:
    stance = data["positions"]
    voters = {str(v[1]) for v in data["votes"]}
    pour = sorted(p for p in voters if stance.get(p) == "pour")
    contre = sorted(p for p in voters if stance.get(p) == "contre")
    return pour, contre


def test_two_small_groups_that_together_reach_the_threshold_are_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, members = planted_with_small_group(small=4, min_group_size=3)
    pour, contre = camps(data)
    partition = [members[:2], pour, members[2:], contre]
    monkeypatch.setattr(analysis_module, "analyze", regrouped(partition))
    summary = build_summary(data)
    jsonschema.validate(summary, documented_schema(), cls=jsonschema.Draft202012Validator)
    analysis = analysis_of(summary)
    # 30 clustered, 26 in the published groups: the 4 others are no fewer than 3 together,
    # and how they split into groups (or how many groups) is not said.
    assert [(g["label"], g["size"]) for g in analysis["groups"]] == [("A", 14), ("B", 12)]
    assert analysis["participants_clustered"] == 30
    assert Counter(p[2] for p in analysis["map"]) == {"A": 14, "B": 12}
    # Their 4 votes on each argument are no fewer than 3 either: the group shares stand.
    late = [a for a in summary["arguments"] if a["votes"] == 2]
    for arg in summary["arguments"]:
        if arg not in late:
            assert None not in arg["groups"].values(), arg
            assert arg["consensus_score"] is not None
    assert analysis["divisive"]


def test_a_group_whose_size_would_give_a_smaller_one_away_is_withheld_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, members = planted_with_small_group(small=4, min_group_size=3)
    pour, contre = camps(data)
    # Groups of 14, 3, 12 and 1: the lone member is withheld, and 30 clustered minus the
    # three others (29) would tell their group has one member, so the smallest published
    # group (3) is withheld with it: 4 people in groups not described.
    partition = [pour, members[:3], contre, members[3:]]
    monkeypatch.setattr(analysis_module, "analyze", regrouped(partition))
    summary = build_summary(data)
    analysis = analysis_of(summary)
    assert [(g["label"], g["size"]) for g in analysis["groups"]] == [("A", 14), ("B", 12)]
    assert [g["id"] for g in analysis["groups"]] == [0, 1]  # no gap where a group was
    assert analysis["participants_clustered"] - 14 - 12 == 4
    assert len(analysis["map"]) == 26
    for text in (render_markdown(summary), render_summary_text(summary)):
        assert "Groupe C" not in text and "Groupe D" not in text
        assert "4 autres participants classés" in text


def test_when_every_group_is_withheld_nothing_about_groups_is_published() -> None:
    summary = build_summary(planted_data(min_group_size=13))
    analysis = analysis_of(summary)
    assert analysis["groups"] == [] and analysis["map"] == [] and analysis["divisive"] == []
    assert all(a["groups"] == {} and a["consensus_score"] is None for a in summary["arguments"])
    assert render_chart(summary) is not None  # the stance tally is still drawn
    assert chart_drawing(summary)["points"] == []


# ---------------------------------------------------------------------------------------
# Common ground: argument figures over published cells only.


def bridging_numbers(summary: Summary) -> list[float]:
    """Every number of the common-ground list but the argument numbers."""
    return [
        float(e[key])
        for e in analysis_of(summary)["common_ground"]
        for key in ("intercept", "factor", "votes")
    ]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_common_ground_figures_describe_whole_arguments_only(name: str) -> None:
    data, members = planted_with_small_group(**SCENARIOS[name])
    summary = build_summary(copy.deepcopy(data))
    threshold = summary["min_group_size"]
    fit = fit_bridging(vote_stream(data), seed=int(data["seed"]))
    args = {a["number"]: a for a in summary["arguments"]}
    listed = analysis_of(summary)["common_ground"]
    assert listed
    for entry in listed:
        arg = args[entry["number"]]
        # An argument whose counts are published, by at least the threshold of voters...
        assert arg["votes_published"] and arg["votes"] >= threshold
        # ... whose vote count is a sum of its published counts, not a new head count...
        assert entry["votes"] == known(arg["agree"]) + known(arg["disagree"])
        # ... and whose two figures are that argument's, coarsely rounded.
        model = fit.arguments[str(entry["number"])]
        assert entry["intercept"] == round(model.intercept, BRIDGING_DECIMALS)
        assert entry["factor"] == round(model.factor, BRIDGING_DECIMALS) + 0.0
    # No voter's figure is published: every bridging number is one of the above.
    voter_figures = {round(v, BRIDGING_DECIMALS) for m in members for v in fit.voters[m]}
    argument_figures = {
        round(v, BRIDGING_DECIMALS)
        for a in fit.arguments.values()
        for v in (a.intercept, a.factor)
    }
    published = set(bridging_numbers(summary)) - {float(e["votes"]) for e in listed}
    assert published <= argument_figures
    assert voter_figures - argument_figures, "the check needs voter figures to look for"
    # Whether the small group is published changes nothing in the list: it is never computed
    # over groups, so it cannot tell which groups are withheld.
    in_full_data: RoundData = {**data, "min_group_size": 1}
    in_full = build_summary(copy.deepcopy(in_full_data))
    assert analysis_of(in_full)["common_ground"] == listed
    assert len(analysis_of(in_full)["groups"]) > len(analysis_of(summary)["groups"])


def test_no_common_ground_from_fewer_raters_than_the_threshold() -> None:
    summary = build_summary(planted_data(min_group_size=27))  # 26 people voted: not enough
    assert analysis_of(summary)["common_ground"] == []
    texts = [render_markdown(summary), render_summary_text(summary), render_html(summary)]
    assert not any("Terrain d'entente" in text for text in texts)
    rows = list(csv.DictReader(io.StringIO(render_csv(summary))))
    assert {r["common_ground"] for r in rows} == {"0"}
    assert {r["common_ground_intercept"] for r in rows} == {""}
    # With a threshold of 24, the arguments with at least 24 agree or disagree votes are in.
    listed = analysis_of(build_summary(planted_data(min_group_size=24)))["common_ground"]
    assert listed and min(e["votes"] for e in listed) >= 24
    assert not analysis_of(build_summary(planted_data(min_group_size=26)))["common_ground"]


def listing_the_late_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that ranks the late argument (two voters) first, gates or not."""
    real = fit_bridging

    def fake(*args: Any, **kwargs: Any) -> BridgingResult:
        result = real(*args, **kwargs)
        late = next(n for n, a in result.arguments.items() if a.votes == 2)
        result.common_ground = [late, *result.common_ground]
        return result

    monkeypatch.setattr(bridging_module, "fit_bridging", fake)


@pytest.mark.parametrize("threshold", [3, 1])
def test_an_argument_with_fewer_voters_than_the_threshold_is_never_listed(
    monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    listing_the_late_argument(monkeypatch)
    summary = build_summary(planted_data(min_group_size=threshold))
    late = next(a for a in summary["arguments"] if a["text"] == LATE)
    listed = [e["number"] for e in analysis_of(summary)["common_ground"]]
    # With a threshold of 1 its two voters are enough, and its counts are published too:
    # the positive control of the check.
    assert (late["number"] in listed) is (threshold == 1) is late["votes_published"]
    assert len(listed) >= 2
