"""The summary in plain words: groups described by their arguments, quoted; every argument
quoted where it is referred to; shares that say of whom; sections that earn their place;
participants, positions and voters as three counts."""

from __future__ import annotations

import re

from planted_round import ARGUMENT_ID_BASE, analysis_of, known, planted_data

from bot.summary import TOP_MIN_VOTERS, build_summary
from bot.summary.export import render_summary_text
from bot.summary.model import RoundData
from bot.summary.sections import summary_document

NO_STANCE = "Un argument donné avant toute position, que presque tout le monde approuve."


def _with_stanceless_author(data: RoundData) -> RoundData:
    """A member who argues and votes without taking a stance, and whose argument everyone
    agrees with."""
    arg_id = ARGUMENT_ID_BASE + 500
    data["arguments"].append(
        {"id": arg_id, "number": 99, "text": NO_STANCE, "author": "q0", "hidden": False}
    )
    voters = sorted({str(v[1]) for v in data["votes"]})
    data["votes"] += [[arg_id, who, 1 if i % 7 else -1] for i, who in enumerate(voters)]
    first = data["arguments"][0]["id"]
    data["votes"].append([first, "q0", 1])
    return data


def test_groups_are_described_by_their_arguments_quoted_in_full() -> None:
    summary = build_summary(planted_data())
    text = render_summary_text(summary)
    args = {a["number"]: a for a in summary["arguments"]}
    assert "Un groupe d'opinion réunit des membres qui ont voté de la même façon" in text
    assert "Les membres de ce groupe ont surtout été d'accord avec :" in text
    for group in analysis_of(summary)["groups"]:
        for rep in group["representative"][:3]:
            assert args[rep["number"]]["text"] in text
            count = rep["agree"] if rep["direction"] == "agree" else rep["disagree"]
            said = f"{count} des {rep['voters']} membres du groupe {group['label']} qui ont voté"
            assert said in text
            # counts inside a published cell: never fewer than the threshold
            assert rep["voters"] >= summary["min_group_size"]
    assert "% du groupe" not in text


def test_every_argument_referred_to_is_quoted_there() -> None:
    for language in ("fr", "en"):
        data = planted_data()
        data["language"] = language
        summary = build_summary(data)
        text = render_summary_text(summary)
        mark = "n° " if language == "fr" else "#"
        refs = re.findall(re.escape(mark) + r"(\d+)(.{0,3})", text)
        assert refs
        assert all(after.startswith(" — ") for _, after in refs), refs


def test_shares_say_of_whom_in_most_supported() -> None:
    summary = build_summary(planted_data())
    text = render_summary_text(summary)
    assert re.search(r"\d+ des \d+ votants d'accord, soit [\d,]+ %", text)
    en = planted_data()
    en["language"] = "en"
    english = render_summary_text(build_summary(en))
    assert re.search(r"\d+ of \d+ voters agreed, [\d.]+%", english)
    assert " %" not in english


def test_most_supported_needs_a_majority_and_includes_stanceless_authors() -> None:
    summary = build_summary(_with_stanceless_author(planted_data()))
    args = {a["number"]: a for a in summary["arguments"]}
    rows = summary["top_arguments"]
    assert rows[-1]["stance"] is None and rows[-1]["arguments"] == [99]
    for row in rows:
        for n in row["arguments"]:
            agree = known(args[n]["agree"])
            assert args[n]["votes"] >= TOP_MIN_VOTERS and 2 * agree > args[n]["votes"]
    # every argument a majority of enough voters agreed with is listed, unless it is divisive
    # or its stance's list is full
    divisive = analysis_of(summary)["divisive"]
    assert divisive
    for arg in args.values():
        majority = arg["votes"] >= 5 and 2 * (arg["agree"] or 0) > arg["votes"]
        if arg["votes_published"] and majority and arg["number"] not in divisive:
            row = next(r for r in rows if r["stance"] == arg["stance"])
            assert arg["number"] in row["arguments"] or len(row["arguments"]) == 3
    text = render_summary_text(summary)
    assert "Auteur sans position :" in text and NO_STANCE in text


def test_participants_positions_and_voters_are_three_counts() -> None:
    summary = build_summary(_with_stanceless_author(planted_data()))
    # 29 took a position (3 of whom never voted), 26 of them voted, and q0 voted without one
    assert (summary["participants"], summary["positions"]) == (30, 29)
    assert summary["reproducibility"]["voters"] == 27
    line = "Participants : 30. Positions prises : 29 ; votants : 27."
    assert line in render_summary_text(summary)
    doc = summary_document(summary)
    from bot.summary.renderers import html_body, markdown

    assert line in markdown(doc)
    assert "Participants : 30. Positions prises : 29 ; votants : 27." in html_body(doc, None)


def test_sections_that_need_two_groups_say_why_they_are_left_out() -> None:
    # Camps of 8 and 6 with a threshold of 7: no group can be published.
    summary = build_summary(planted_data(camp_a=8, camp_b=6, min_group_size=7))
    assert len(analysis_of(summary)["groups"]) < 2
    text = render_summary_text(summary)
    assert "Consensus entre les groupes" not in text and "Ce qui divise" not in text
    assert "Pas de comparaison entre groupes d'opinion dans ce tour" in text
    assert "1 participants" not in text and "classés en 1 groupes" not in text
    doc = summary_document(summary)
    assert {s.id for s in doc.sections}.isdisjoint({"consensus", "divisive"})
