"""Arguments carried over from the previous round (``follow_up``): what a summary hands on,
and how the next summary says agreement on them moved, in aggregate only."""

from __future__ import annotations

import copy
import json
from typing import Any, cast

import jsonschema
from planted_round import CON, CONSENSUS, LATE, PRO, analysis_of, planted_data
from test_model import documented_schema

from bot.summary import TOP_MIN_VOTERS, build_summary
from bot.summary.carry import MAX_CARRIED_COMMON_GROUND, MAX_CARRIED_DIVISIVE, carried_arguments
from bot.summary.export import (
    CSV_COLUMNS,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    render_summary_text,
)
from bot.summary.model import CarriedFrom, RoundData, Summary


def origin(number: int, listed_as: str = "common_ground", agree: int = 13) -> CarriedFrom:
    return {
        "round": "ABCDE",
        "number": number,
        "listed_as": listed_as,
        "votes": 21,
        "agree": agree,
        "disagree": 21 - agree,
        "pass": 0,
    }


def with_carried(language: str = "fr") -> tuple[RoundData, dict[str, int]]:
    """The planted round where the consensus arguments and the late one (two votes) are
    carried over from round ABCDE: nobody's, their authors' aliases gone."""
    data = planted_data()
    data["language"] = language
    numbers = {}
    for i, arg in enumerate(data["arguments"]):
        if arg["text"] in [*CONSENSUS, LATE]:
            arg["author"] = ""
            listed = "divisive" if arg["text"] == LATE else "common_ground"
            arg["carried_over"] = origin(70 + i, listed)
            numbers[arg["text"]] = arg["number"]
    return data, numbers


def test_the_summary_says_how_agreement_on_carried_over_arguments_moved() -> None:
    data, numbers = with_carried()
    summary = build_summary(data)
    entries = {e["number"]: e for e in summary["carried_over"]}
    assert sorted(entries) == sorted(numbers.values())
    published = {a["number"]: a for a in summary["arguments"]}
    for text in CONSENSUS:
        entry = entries[numbers[text]]
        now = published[numbers[text]]
        assert now["votes"] >= TOP_MIN_VOTERS
        assert entry["round"] == "ABCDE" and entry["listed_as"] == "common_ground"
        assert (entry["votes_then"], entry["support_then"]) == (21, 61.9)
        assert (entry["votes_now"], entry["support_now"]) == (now["votes"], now["support"])
    # Two voters now: the rate is withheld, the count (participation) is not.
    late = entries[numbers[LATE]]
    assert (late["votes_now"], late["support_now"]) == (2, None)
    assert late["listed_as"] == "divisive"
    # Nobody's: no stance, not "most supported", and no participant more.
    assert all(published[n]["stance"] is None for n in entries)
    assert not {n for row in summary["top_arguments"] for n in row["arguments"]} & set(entries)
    # (their authors took positions and voted: the "" of a carried-over one is nobody more)
    assert summary["participants"] == build_summary(planted_data())["participants"]
    jsonschema.validate(
        json.loads(render_json(summary)), documented_schema(), cls=jsonschema.Draft202012Validator
    )


def test_every_format_marks_them_and_shows_the_movement() -> None:
    data, numbers = with_carried()
    summary = build_summary(data)
    first = numbers[CONSENSUS[0]]
    entry = next(e for e in summary["carried_over"] if e["number"] == first)
    now = f"{str(entry['support_now']).removesuffix('.0').replace('.', ',')} %"
    line = (
        f"retenu comme terrain d'entente ; 61,9 % des 21 votants d'accord alors ; "
        f"{now} des {entry['votes_now']} votants d'accord maintenant"
    )
    chat = render_summary_text(summary)
    assert "**Repris du tour précédent**" in chat
    assert f"• n° {first} (repris du tour ABCDE) — " in chat and line in chat
    assert "trop peu de votes pour l'instant : 2 votants" in chat
    markdown = render_markdown(summary)
    assert "### Repris du tour précédent" in markdown and line in markdown
    assert f"**n° {first} (repris du tour ABCDE)**" in markdown
    html = render_html(summary)
    assert 'id="carried-over"' in html and "trop peu de votes pour l&#x27;instant" in html
    rows = render_csv(summary).splitlines()
    assert rows[0].split(",")[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    marked = [r for r in rows[1:] if r.split(",")[0] == str(first)]
    assert marked and "ABCDE" in marked[0]
    english = render_summary_text(build_summary(with_carried("en")[0]))
    assert "**Carried over from the previous round**" in english
    assert (
        "(carried over from round ABCDE)" in english and "too few votes yet: 2 voters" in english
    )


def test_a_hidden_carried_over_argument_is_left_out() -> None:
    data, numbers = with_carried()
    for arg in data["arguments"]:
        if arg["number"] == numbers[CONSENSUS[0]]:
            arg["hidden"] = True
    summary = build_summary(data)
    assert numbers[CONSENSUS[0]] not in {e["number"] for e in summary["carried_over"]}
    assert summary["hidden_arguments"] == 2


def test_a_summary_of_schema_5_still_renders_without_the_section() -> None:
    summary: dict[str, Any] = copy.deepcopy(dict(build_summary(planted_data())))
    del summary["carried_over"]
    summary["schema_version"] = summary["reproducibility"]["schema_version"] = 5
    old = cast(Summary, summary)
    assert "Repris" not in render_summary_text(old)
    assert 'id="carried-over"' not in render_html(old)
    assert "repris du tour" not in render_markdown(old)
    assert render_csv(old)
    assert build_summary(planted_data())["carried_over"] == []  # none: the section is left out
    assert "Repris" not in render_summary_text(build_summary(planted_data()))


def test_what_a_summary_hands_on_is_what_it_shows() -> None:
    summary = build_summary(planted_data())
    analysis = analysis_of(summary)
    assert len(analysis["groups"]) >= 2 and analysis["common_ground"] and analysis["divisive"]
    carried = carried_arguments(summary)
    common = [e["number"] for e in analysis["common_ground"]]
    divisive = [n for n in analysis["divisive"] if n not in common]
    assert [c.origin["number"] for c in carried] == common + divisive
    published = {a["number"]: a for a in summary["arguments"]}
    for c in carried:
        arg = published[c.origin["number"]]
        assert c.text == arg["text"]
        assert c.origin == {
            "round": "K7Q2",
            "number": arg["number"],
            "listed_as": "common_ground" if arg["number"] in common else "divisive",
            "votes": arg["votes"],
            "agree": arg["agree"],
            "disagree": arg["disagree"],
            "pass": arg["pass"],
        }
    # The hidden argument is in no list: never carried (and neither is the late one).
    assert {c.text for c in carried} <= {*CONSENSUS, *PRO, *CON}


def test_what_divides_is_carried_only_with_two_groups_and_each_list_is_capped() -> None:
    summary = build_summary(planted_data())
    analysis = analysis_of(summary)
    many = copy.deepcopy(summary)
    numbers = [a["number"] for a in many["arguments"]]
    many_analysis = analysis_of(many)
    many_analysis["common_ground"] = [
        {"number": n, "intercept": 0.5, "factor": 0.0, "votes": 20} for n in numbers
    ]
    many_analysis["divisive"] = list(reversed(numbers))
    picked = carried_arguments(many)
    kinds = [c.origin["listed_as"] for c in picked]
    assert kinds.count("common_ground") == MAX_CARRIED_COMMON_GROUND
    assert kinds.count("divisive") <= MAX_CARRIED_DIVISIVE
    assert len({c.origin["number"] for c in picked}) == len(picked)
    # One published group: the summary shows no "what divides", so nothing of it is carried.
    one = copy.deepcopy(summary)
    analysis_of(one)["groups"] = analysis["groups"][:1]
    assert {c.origin["listed_as"] for c in carried_arguments(one)} == {"common_ground"}
