"""The bridging ranking (``bot.summary.bridging``) and the consensus that every group must see.

* On four real Polis conversations, no argument voted on by fewer than a fifth of the
  participants reaches the top ten of the common-ground list, where Polis's group-aware
  consensus puts four (scoop-hivemind.biodiversity) and two (brexit-consensus).
* In a planted round, the argument both camps agree with is common ground and the one only
  one camp agrees with is not — the second because the model explains it by the axis.
* A few unanimous votes do not make common ground, whatever the gate that stops them.
* The same votes give the same list, in any order and under any voter names.
* In the published summary: the list, its figures, its rendering in every format, and the
  consensus arguments that now need votes from every published group.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

import jsonschema
import numpy as np
import pytest
from planted_round import (
    ARGUMENT_ID_BASE,
    CON,
    CONSENSUS,
    LATE,
    PRO,
    analysis_of,
    known,
    planted_data,
)
from test_exports import documented_schema
from test_polis_fidelity import LONDON_META, conversation
from test_withholding import camps, regrouped

import bot.summary.analysis as analysis_module
import bot.summary.bridging as bridging_module
from bot.summary import CONSENSUS_MIN_GROUP_VOTES, SUMMARY_SCHEMA_VERSION, build_summary
from bot.summary.analysis import Vote, consensus_statements
from bot.summary.bridging import (
    LAMBDA_FACTOR,
    LAMBDA_INTERCEPT,
    MAX_FACTOR,
    MIN_INTERCEPT,
    BridgingConfig,
    fit_bridging,
)
from bot.summary.export import (
    CSV_COLUMNS,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    render_summary_text,
)
from bot.summary.model import RoundData, Summary

CONVERSATIONS = {
    "15-per-hour-seattle": None,
    "brexit-consensus": None,
    "london.youth.policing": LONDON_META,
    "scoop-hivemind.biodiversity": None,
}
NO_GATES = BridgingConfig(min_votes=1, min_share=0.0, min_side_agrees=0)


def test_community_notes_constants() -> None:
    assert (LAMBDA_INTERCEPT, LAMBDA_FACTOR, MIN_INTERCEPT, MAX_FACTOR) == (0.15, 0.03, 0.4, 0.5)


# ------------------------------------------------------------------------ Polis conversations


def latest_votes(votes: list[Vote]) -> dict[tuple[str, str], Vote]:
    latest: dict[tuple[str, str], Vote] = {}
    for vote in votes:
        key = (vote.participant, vote.statement)
        if key not in latest or vote.timestamp >= latest[key].timestamp:
            latest[key] = vote
    return latest


def polis_group_aware_top(name: str, meta: set[str] | None) -> list[str]:
    """The ten statements with the highest group-aware consensus over Polis's own groups
    (product over the groups of (agree + 1) / (seen + 2))."""
    conv = conversation(name, meta)
    cells: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for vote in latest_votes(conv.votes).values():
        group = conv.polis_groups.get(vote.participant)
        if vote.statement in conv.moderated_out or group is None:
            continue
        cells[(vote.statement, group)][0] += vote.value == 1
        cells[(vote.statement, group)][1] += 1
    groups = sorted(set(conv.polis_groups.values()))
    score: dict[str, float] = {}
    for statement in {s for s, _ in cells}:
        score[statement] = 1.0
        for group in groups:
            agree, seen = cells.get((statement, group), [0, 0])
            score[statement] *= (agree + 1) / (seen + 2)
    return sorted(score, key=lambda s: (-score[s], s))[:10]


def rare(name: str, meta: set[str] | None) -> set[str]:
    """Statements that fewer than 20 % of the participants voted agree or disagree on (the
    strictest reading: passes do not count as voting on it, everybody counts as a
    participant)."""
    conv = conversation(name, meta)
    participants = {v.participant for v in conv.votes}
    rated: dict[str, int] = defaultdict(int)
    for vote in latest_votes(conv.votes).values():
        if vote.value != 0:
            rated[vote.statement] += 1
    everything = {v.statement for v in conv.votes}
    return {s for s in everything if rated[s] < 0.2 * len(participants)}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_no_rarely_seen_argument_reaches_the_top_ten_on_polis_data(name: str) -> None:
    meta = CONVERSATIONS[name]
    conv = conversation(name, meta)
    rarely_seen = rare(name, meta)
    # Not by the share gate alone: the list without it keeps them out too.
    for config in (BridgingConfig(), BridgingConfig(min_share=0.0)):
        result = fit_bridging(conv.votes, moderated_out=conv.moderated_out, config=config)
        assert result.converged
        top = result.common_ground[:10]
        assert not rarely_seen & set(top), (name, top)
        for statement in top:
            fit = result.arguments[statement]
            assert fit.intercept >= 0.4 and abs(fit.factor) < 0.5
    # The premise: Polis's group-aware consensus does put such statements in its top ten.
    expected = {"scoop-hivemind.biodiversity": 4, "brexit-consensus": 2}
    if name in expected:
        assert len(rarely_seen & set(polis_group_aware_top(name, meta))) >= expected[name]
        # ... and the common-ground list is not empty there.
        assert len(fit_bridging(conv.votes, moderated_out=conv.moderated_out).common_ground) >= 3


# ------------------------------------------------------------------------------ planted rounds


def two_camps(
    *,
    camp_a: int = 15,
    camp_b: int = 12,
    noise: float = 0.08,
    seed: int = 3,
) -> tuple[list[Vote], list[str], list[str]]:
    """Two camps voting on everything: "bridge" agreed by both, "divisive" agreed by camp A
    and rejected by camp B, and three statements for each camp, with a little noise."""
    rng = random.Random(seed)
    people_a = [f"a{i}" for i in range(camp_a)]
    people_b = [f"b{i}" for i in range(camp_b)]
    votes = []
    for who in people_a + people_b:
        side = 1 if who in people_a else -1
        planned = {"bridge": 1, "divisive": side}
        planned |= {f"pro{k}": side for k in range(3)} | {f"con{k}": -side for k in range(3)}
        for statement, value in planned.items():
            roll = rng.random()
            if roll < noise / 2:
                value = 0
            elif roll < noise:
                value = -value
            votes.append(Vote(who, statement, value))
    return votes, people_a, people_b


def test_agreed_by_both_camps_is_common_ground_agreed_by_one_is_not() -> None:
    votes, _, _ = two_camps()
    result = fit_bridging(votes)
    assert result.common_ground == ["bridge"]
    bridge, divisive = result.arguments["bridge"], result.arguments["divisive"]
    assert bridge.intercept >= 0.4 and abs(bridge.factor) < 0.5
    assert min(bridge.agree_negative, bridge.agree_positive) >= 2
    # Camp A agrees with "divisive" as surely as everyone agrees with "bridge"...
    agree_a = sum(
        v.value == 1 for v in votes if v.statement == "divisive" and v.participant[0] == "a"
    )
    assert agree_a >= 0.8 * 15
    # ... but the axis explains it: a large factor, a low intercept, with or without gates.
    assert abs(divisive.factor) >= 0.5 and divisive.intercept < 0.4
    assert "divisive" not in fit_bridging(votes, config=NO_GATES).common_ground
    # The camps' own statements sit at the ends of the axis, on opposite sides.
    signs = {
        s: result.arguments[s].factor > 0 for s in result.arguments if s[:3] in ("pro", "con")
    }
    assert len({signs[f"pro{k}"] for k in range(3)}) == 1
    assert {signs["pro0"], signs["con0"]} == {True, False}


def sparse_round(voters: int, seed: int = 5) -> tuple[list[Vote], list[str], list[str]]:
    """Two camps that vote on eight statements splitting them, and forty statements that
    each got four random votes: the average argument has few votes, so the model pulls a
    thinly voted argument's intercept towards 0 only weakly."""
    rng = random.Random(seed)
    people_a = [f"a{i}" for i in range(voters // 2)]
    people_b = [f"b{i}" for i in range(voters - voters // 2)]
    votes = []
    for who in people_a + people_b:
        side = 1 if who in people_a else -1
        for k in range(4):
            votes += [Vote(who, f"pro{k}", side), Vote(who, f"con{k}", -side)]
    for j in range(40):
        votes += [
            Vote(who, f"s{j:02d}", rng.choice([1, -1]))
            for who in rng.sample(people_a + people_b, 4)
        ]
    return votes, people_a, people_b


def test_three_unanimous_votes_are_not_common_ground() -> None:
    votes, camp_a, camp_b = two_camps()
    few = [Vote(who, "few", 1) for who in (camp_a[0], camp_a[1], camp_b[0])]
    assert "few" not in fit_bridging(votes + few).common_ground
    # Where arguments have few votes, the model alone would list them: the gates do not.
    votes, camp_a, camp_b = sparse_round(20)
    few = [Vote(who, "few", 1) for who in (camp_a[0], camp_a[1], camp_b[0])]
    assert "few" in fit_bridging(votes + few, config=NO_GATES).common_ground
    assert "few" not in fit_bridging(votes + few).common_ground
    # Each gate on its own is enough: 3 votes < 5; 3 votes < 20 % of the 20 voters (and
    # < half the average argument's 6.6); one camp gave a single agree vote.
    for gate in (
        BridgingConfig(min_votes=5, min_share=0.0, min_side_agrees=0),
        BridgingConfig(min_votes=1, min_share=0.2, min_side_agrees=0),
        BridgingConfig(min_votes=1, min_share=0.0, min_side_agrees=2),
    ):
        assert "few" not in fit_bridging(votes + few, config=gate).common_ground, gate
    # Unanimous and seen by a few from each side is still not enough in a big round: six
    # votes pass the 5-vote gate, not the 10 % one among 80 voters.
    votes, camp_a, camp_b = sparse_round(80)
    six = [Vote(who, "six", 1) for who in camp_a[:3] + camp_b[:3]]
    fit = fit_bridging(votes + six, config=NO_GATES)
    assert "six" in fit.common_ground
    assert fit.arguments["six"].votes == 6 and fit.participants == 80
    assert "six" not in fit_bridging(votes + six).common_ground
    assert "six" in fit_bridging(votes + six, config=BridgingConfig(min_share=0.0)).common_ground


def test_same_votes_same_list_in_any_order_and_under_any_names() -> None:
    votes, _, _ = two_camps()
    first, second = fit_bridging(votes, seed=11), fit_bridging(list(votes), seed=11)
    assert first.common_ground == second.common_ground
    assert first.arguments == second.arguments
    shuffled = list(votes)
    random.Random(1).shuffle(shuffled)
    renamed = [
        Vote(f"x{999 - int(v.participant[1:])}{v.participant[0]}", v.statement, v.value)
        for v in shuffled
    ]
    for other in (fit_bridging(shuffled, seed=11), fit_bridging(renamed, seed=11)):
        assert other.common_ground == first.common_ground
        for name, fit in first.arguments.items():
            assert other.arguments[name].intercept == pytest.approx(fit.intercept, abs=1e-6)
            assert other.arguments[name].factor == pytest.approx(fit.factor, abs=1e-6)
    # The latest vote counts, and a pass is no rating.
    changed = [*votes, Vote("a0", "bridge", -1, timestamp=1.0), Vote("a1", "bridge", 0, 1.0)]
    others = [
        v.value for v in votes if v.statement == "bridge" and v.participant not in ("a0", "a1")
    ]
    fit = fit_bridging(changed, seed=11).arguments["bridge"]
    assert fit.agree == others.count(1)
    assert fit.votes == others.count(1) + others.count(-1) + 1


def test_seeds_reach_the_same_figures_on_polis_data() -> None:
    """Starting on the main axis, every seed ends at the same minimum (random starts do not
    on london.youth.policing)."""
    conv = conversation("london.youth.policing", LONDON_META)
    fits = [fit_bridging(conv.votes, moderated_out=conv.moderated_out, seed=s) for s in range(6)]
    assert len({round(f.loss, 7) for f in fits}) == 1
    assert len({tuple(f.common_ground) for f in fits}) == 1


def test_degenerate_inputs() -> None:
    assert fit_bridging([]).common_ground == []
    assert fit_bridging([Vote("a", "s", 0)]).participants == 1
    alike = [Vote(f"p{i}", f"s{j}", 1) for i in range(6) for j in range(3)]
    result = fit_bridging(alike)
    assert result.converged and len(result.arguments) == 3
    with pytest.raises(ValueError):
        fit_bridging([Vote("a", "s", 2)])


# --------------------------------------------------------------------------- the summary


def kinds(summary: Summary) -> dict[int, str]:
    text_kind = {t: "consensus" for t in CONSENSUS} | {t: "pro" for t in PRO}
    text_kind |= {t: "con" for t in CON}
    return {a["number"]: text_kind.get(a["text"], "other") for a in summary["arguments"]}


def test_the_summary_lists_the_common_ground() -> None:
    summary = build_summary(planted_data())
    listed = analysis_of(summary)["common_ground"]
    kind = kinds(summary)
    assert [kind[e["number"]] for e in listed] == ["consensus", "consensus"]
    intercepts = [e["intercept"] for e in listed]
    assert intercepts == sorted(intercepts, reverse=True) and min(intercepts) >= 0.4
    args = {a["number"]: a for a in summary["arguments"]}
    for entry in listed:
        assert set(entry) == {"number", "intercept", "factor", "votes"}
        assert abs(entry["factor"]) < 0.5
        arg = args[entry["number"]]
        assert entry["votes"] == known(arg["agree"]) + known(arg["disagree"])
    assert summary["schema_version"] == SUMMARY_SCHEMA_VERSION == 6
    assert summary["reproducibility"]["bridging_version"] == bridging_module.BRIDGING_VERSION
    jsonschema.validate(summary, documented_schema(), cls=jsonschema.Draft202012Validator)


def test_the_common_ground_in_every_format() -> None:
    summary = build_summary(planted_data())
    entries = analysis_of(summary)["common_ground"]
    first = entries[0]
    text_of = {a["number"]: a["text"] for a in summary["arguments"]}
    chat = render_summary_text(summary)
    assert "**Terrain d'entente**" in chat
    assert f"• n° {first['number']} — {text_of[first['number']]}" in chat
    md = render_markdown(summary)
    assert "### Terrain d'entente" in md
    figures = f"score de pont {first['intercept']:.2f}".replace(".", ",")
    assert figures in md and f"{first['votes']} votes hors « passe »" in md
    page = render_html(summary)
    assert 'id="common-ground"' in page and figures in page
    assert json.loads(render_json(summary))["analysis"]["common_ground"] == entries
    rows = list(csv.DictReader(io.StringIO(render_csv(summary))))
    assert {"common_ground", "common_ground_intercept", "common_ground_factor"} <= set(CSV_COLUMNS)
    listed = {int(r["number"]): r for r in rows if r["common_ground"] == "1"}
    assert sorted(listed) == sorted(e["number"] for e in entries)
    for entry in entries:
        row = listed[entry["number"]]
        assert float(row["common_ground_intercept"]) == entry["intercept"]
        assert float(row["common_ground_factor"].replace("\u2212", "-")) == entry["factor"]
    assert all(r["common_ground_intercept"] == "" for r in rows if r["common_ground"] == "0")
    english = build_summary({**planted_data(), "language": "en"})
    assert "**Common ground**" in render_summary_text(english)
    assert "### Common ground" in render_markdown(english)
    assert "bridging score" in render_markdown(english)


def test_a_negative_factor_is_written_with_a_minus_sign() -> None:
    summary = copy.deepcopy(build_summary(planted_data()))
    entry = analysis_of(summary)["common_ground"][0]
    entry["factor"] = -0.12
    rows = list(csv.DictReader(io.StringIO(render_csv(summary))))
    row = next(r for r in rows if int(r["number"]) == entry["number"])
    assert row["common_ground_factor"] == "\u22120.12"
    assert "facteur \u22120,12" in render_markdown(summary)


def test_summaries_of_schema_3_render_without_common_ground() -> None:
    summary = build_summary(planted_data())
    # Deliberately a schema-3 summary, from before the common ground: no Analysis lacks the
    # key, so it is deleted through a plain dict.
    old_analysis = cast(dict[str, Any], analysis_of(summary))
    del old_analysis["common_ground"]
    summary["schema_version"] = 3
    assert "Terrain d'entente" not in render_summary_text(summary)
    assert "Terrain d'entente" not in render_markdown(summary)
    rows = list(csv.DictReader(io.StringIO(render_csv(summary))))
    assert {r["common_ground"] for r in rows} == {"0"}


def test_a_failing_bridging_model_still_gives_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(bridging_module, "fit_bridging", broken)
    summary = build_summary(planted_data())
    assert analysis_of(summary)["common_ground"] == []
    assert analysis_of(summary)["consensus"]["agree"]
    assert summary["reproducibility"]["bridging_version"] is None


# --------------------------------------------------------- consensus needs every group's votes


def one_group_argument(
    data: RoundData, voters_b: int, among: list[str] | None = None, also: Sequence[str] = ()
) -> int:
    """Add an argument that all of camp "pour", ``voters_b`` of ``among`` (camp "contre" by
    default) and everyone in ``also`` agree with; return its number."""
    arg_id = ARGUMENT_ID_BASE + 500 + len(data["arguments"])
    number = next(n for n in range(1, 200) if n not in {a["number"] for a in data["arguments"]})
    data["arguments"].append(
        {
            "id": arg_id,
            "number": number,
            "text": f"Un argument vu par peu de monde ({number}).",
            "author": "p0",
            "hidden": False,
        }
    )
    pour, contre = camps(data)
    chosen = pour + (contre if among is None else among)[:voters_b] + list(also)
    data["votes"] += [[arg_id, who, 1] for who in chosen]
    return number


def test_consensus_needs_votes_from_every_published_group() -> None:
    data = planted_data()
    number = one_group_argument(data, voters_b=0)
    summary = build_summary(data)
    assert len(analysis_of(summary)["groups"]) == 2
    # Polis's formula over all its voters calls it consensus, and ranks it among the first...
    arg = next(a for a in summary["arguments"] if a["number"] == number)
    counts = [np.array([float(known(arg[k]))]) for k in ("agree", "disagree", "votes")]
    polis = consensus_statements([str(number)], *counts)
    assert polis["agree"] == [str(number)]
    # ... but camp "contre" never saw it: it is not consensus across groups.
    assert number not in analysis_of(summary)["consensus"]["agree"]
    assert {kinds(summary).get(n) for n in analysis_of(summary)["consensus"]["agree"]} == {
        "consensus"
    }
    assert CONSENSUS_MIN_GROUP_VOTES == 5
    for voters_b, listed in ((4, False), (5, True)):
        data = planted_data()
        number = one_group_argument(data, voters_b=voters_b)
        assert (number in analysis_of(build_summary(data))["consensus"]["agree"]) is listed


def test_consensus_in_a_group_smaller_than_the_minimum_needs_all_its_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Groups chosen by hand: camp "pour" (14), then camp "contre" split into 4 and 8.
    data = planted_data()
    pour, contre = camps(data)
    small = contre[:4]
    monkeypatch.setattr(analysis_module, "analyze", regrouped([pour, small, contre[4:]]))
    for voters_b, listed in ((3, False), (4, True)):
        data = planted_data()
        number = one_group_argument(data, voters_b=voters_b, among=small)
        summary = build_summary(data)
        assert [g["size"] for g in analysis_of(summary)["groups"]] == [14, 4, 8]
        # The group of 8 never saw it either: only groups smaller than 5 are let off.
        assert number not in analysis_of(summary)["consensus"]["agree"]
        number = one_group_argument(data, voters_b=voters_b, among=small, also=contre[4:9])
        summary = build_summary(data)
        assert (number in analysis_of(summary)["consensus"]["agree"]) is listed, voters_b


def test_late_argument_is_never_common_ground() -> None:
    summary = build_summary(planted_data())
    late = next(a for a in summary["arguments"] if a["text"] == LATE)
    assert late["number"] not in {e["number"] for e in analysis_of(summary)["common_ground"]}


def test_common_ground_in_a_conversation_where_everyone_votes_on_few_arguments() -> None:
    """400 people each vote on 6 of 100 arguments: the average argument has votes from 6 %
    of them, and the share gate asks for half the average instead of 10 % of everyone."""
    rng = random.Random(8)
    bridges = {f"bridge{k}" for k in range(10)}
    statements = sorted(bridges | {f"split{k}" for k in range(90)})
    votes = []
    for i in range(400):
        side = 1 if i % 2 else -1
        for statement in rng.sample(statements, 6):
            lean = 1 if statement in bridges else side * (1 if int(statement[5:]) % 2 else -1)
            value = lean if rng.random() < 0.9 else -lean
            votes.append(Vote(f"v{i}", statement, value))
    result = fit_bridging(votes)
    assert max(a.votes for a in result.arguments.values()) < 0.1 * 400
    # Noise leaves one just under the intercept threshold; no split argument gets in.
    assert set(result.common_ground) <= bridges and len(result.common_ground) >= 8
    assert fit_bridging(votes, config=BridgingConfig(min_share_of_mean=1.0)).common_ground
    assert not fit_bridging(votes, config=BridgingConfig(min_share_of_mean=10.0)).common_ground
