"""build_summary on synthetic rounds with two planted opinion camps."""

from __future__ import annotations

import copy
import json
import random
import re
from collections import Counter
from typing import Any

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

from bot.summary import SUMMARY_SCHEMA_VERSION, TOP_MIN_VOTERS, build_summary
from bot.summary.model import PublishedArgument, Summary
from bot.summary.themes import STOP_WORDS, extract_themes, fold


def by_number(summary: Summary) -> dict[int, PublishedArgument]:
    return {a["number"]: a for a in summary["arguments"]}


def kind_of(summary: Summary) -> dict[int, str]:
    """Argument number -> planted kind ("consensus", "pro", "con", "late")."""
    kinds = {t: "consensus" for t in CONSENSUS} | {t: "pro" for t in PRO} | {t: "con" for t in CON}
    kinds[LATE] = "late"
    return {a["number"]: kinds.get(a["text"], "other") for a in summary["arguments"]}


@pytest.fixture(scope="module")
def summary() -> Summary:
    return build_summary(planted_data())


def walk(value: Any) -> list[Any]:
    """Every key and scalar in a JSON-like value."""
    out: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append(key)
            out += walk(item)
    elif isinstance(value, list):
        for item in value:
            out += walk(item)
    else:
        out.append(value)
    return out


def test_two_planted_camps_are_found(summary: Summary) -> None:
    analysis = summary["analysis"]
    assert analysis is not None
    groups = [g for g in analysis["groups"] if g["published"]]
    assert sorted(g["size"] for g in groups) == [12, 14]
    assert [g["label"] for g in analysis["groups"]] == ["A", "B"][: len(analysis["groups"])]
    assert analysis["participants"] == 26 and analysis["participants_clustered"] == 26
    kinds = kind_of(summary)
    for group in groups:
        camp = "pro" if group["size"] == 14 else "con"
        assert group["representative"], group
        for rep in group["representative"]:
            kind = kinds[rep["number"]]
            # What sets a camp apart: agreeing with its own side or rejecting the other's.
            if rep["direction"] == "agree":
                assert kind in (camp, "consensus"), (group, rep, kind)
                assert rep["agree_share"] is None or rep["agree_share"] >= 50
            else:
                assert kind not in (camp, "consensus"), (group, rep, kind)
                assert rep["disagree_share"] is None or rep["disagree_share"] >= 50
        assert group["centre"] is not None and len(group["centre"]) == 2
    # Every clustered participant is one point on the map, labelled with their group.
    points = analysis["map"]
    assert len(points) == 26
    assert sorted(Counter(p[2] for p in points).values()) == [12, 14]


def test_group_shares_follow_the_camps(summary: Summary) -> None:
    pro_group = next(g["label"] for g in analysis_of(summary)["groups"] if g["size"] == 14)
    con_group = next(g["label"] for g in analysis_of(summary)["groups"] if g["size"] == 12)
    kinds = kind_of(summary)
    for number, arg in by_number(summary).items():
        kind = kinds[number]
        if kind == "late":
            assert set(arg["groups"].values()) == {None}
            continue
        shares = {label: known(share) for label, share in arg["groups"].items()}
        assert set(shares) == {pro_group, con_group}
        if kind == "pro":
            assert shares[pro_group] > 70 and shares[con_group] < 30
        elif kind == "con":
            assert shares[con_group] > 70 and shares[pro_group] < 30
        else:
            assert shares[pro_group] > 70 and shares[con_group] > 70


def test_consensus_and_divisive_arguments(summary: Summary) -> None:
    analysis = analysis_of(summary)
    kinds = kind_of(summary)
    agreed = analysis["consensus"]["agree"]
    assert agreed, analysis["consensus"]
    assert {kinds[n] for n in agreed} == {"consensus"}
    assert not analysis["consensus"]["disagree"]
    divisive = analysis["divisive"]
    assert divisive
    assert {kinds[n] for n in divisive} <= {"pro", "con"}
    # The group-aware consensus score ranks the planted consensus above every split argument.
    args = by_number(summary)
    lowest_consensus = min(
        known(args[n]["consensus_score"]) for n in args if kinds[n] == "consensus"
    )
    highest_split = max(
        known(args[n]["consensus_score"]) for n in args if kinds[n] in ("pro", "con")
    )
    assert lowest_consensus > highest_split


def test_top_arguments_per_stance(summary: Summary) -> None:
    args = by_number(summary)
    top = {row["stance"]: row["arguments"] for row in summary["top_arguments"]}
    # Every author took a stance: no entry for arguments without one.
    assert list(top) == ["pour", "contre", "nuance", "abstention"]
    assert top["nuance"] == [] and top["abstention"] == []
    for stance in ("pour", "contre"):
        expected = sorted(
            (
                a
                for a in args.values()
                if a["stance"] == stance
                and a["votes_published"]
                and a["votes"] >= TOP_MIN_VOTERS
                and 2 * known(a["agree"]) > a["votes"]
                and a["number"] not in analysis_of(summary)["divisive"]
            ),
            key=lambda a: (-known(a["agree"]) / a["votes"], -a["votes"], a["number"]),
        )
        assert top[stance] == [a["number"] for a in expected[:3]]
        supports = [known(args[n]["support"]) for n in top[stance]]
        assert supports == sorted(supports, reverse=True)
        assert all(s > 50 for s in supports)
    # Camp A wrote a consensus argument, which everyone supports: it leads the "pour" list.
    assert args[top["pour"][0]]["text"] == CONSENSUS[0]
    # Camp B (12 of 26 voters) rejects the "pour" arguments: a minority's argument is not
    # "most supported", as it was when each stance listed its best three whatever they had;
    # and the one camp A's 14 votes carry is divisive, so it is not listed either.
    assert len(top["pour"]) == 1
    assert all(a["number"] not in top["pour"] for a in args.values() if a["text"] in PRO)


def test_tally_counts_and_shares(summary: Summary) -> None:
    assert summary["tally"] is not None
    tally = {row["stance"]: row for row in summary["tally"]}
    assert {s: row["count"] for s, row in tally.items()} == {
        "pour": 14,
        "contre": 12,
        "nuance": 2,
        "abstention": 1,
    }
    assert tally["pour"]["share"] == 48.3 and tally["pour"]["label"] == "Pour"
    assert summary["participants"] == 29 and summary["positions"] == 29


def test_small_breakdowns_are_withheld() -> None:
    # Everything hidden: fewer people than the threshold took part.
    hidden = build_summary(planted_data(min_group_size=100))
    assert hidden["tally"] is None and hidden["top_arguments"] == []
    for arg in hidden["arguments"]:
        assert arg["stance"] is None
        assert not arg["votes_published"]
        assert arg["agree"] is arg["disagree"] is arg["pass"] is arg["support"] is None
        assert set(arg["groups"].values()) <= {None}
    analysis = hidden["analysis"]
    assert analysis is not None
    # Withheld groups are not even listed: how many there are would bound their sizes.
    assert analysis["groups"] == []
    assert analysis["map"] == [] and analysis["divisive"] == []
    assert analysis["consensus"] == {"agree": [], "disagree": []}

    # One argument with two voters: its counts are withheld, the others are published.
    normal = build_summary(planted_data(min_group_size=3))
    late = next(a for a in normal["arguments"] if a["text"] == LATE)
    assert late["votes"] == 2 and not late["votes_published"]
    assert late["agree"] is None and late["support"] is None
    assert all(a["votes_published"] for a in normal["arguments"] if a["text"] != LATE)


def test_a_small_group_is_withheld_and_so_is_the_group_that_would_give_it_away() -> None:
    summary = build_summary(planted_data(min_group_size=13))
    analysis = analysis_of(summary)
    # The camp of 12 is too small to describe. Describing the camp of 14 would give its size
    # away (26 clustered minus 14) and, next to each argument's overall counts, how its 12
    # members voted: neither camp is described, or even listed, and no point is drawn.
    assert analysis["participants_clustered"] == 26
    assert analysis["groups"] == [] and analysis["map"] == []
    # No group published: nothing can be divisive between groups, no group-aware score.
    assert analysis["divisive"] == []
    for arg in summary["arguments"]:
        assert arg["groups"] == {} and arg["consensus_score"] is None
    # What all the voters of an argument did is still published.
    assert [a["votes_published"] for a in summary["arguments"]] == [
        a["votes"] >= 13 for a in summary["arguments"]
    ]
    assert analysis["consensus"]["agree"]


def test_stragglers_outside_the_groups_hide_the_group_shares_they_would_leak() -> None:
    data = planted_data(min_group_size=3)
    target = next(a for a in data["arguments"] if a["text"] == PRO[0])
    # Two people vote once: too few votes to be clustered, so they form a remainder of two.
    data["votes"] += [[target["id"], "p90", 1], [target["id"], "p91", 1]]
    summary = build_summary(data)
    assert analysis_of(summary)["participants_clustered"] == 26
    args = by_number(summary)
    assert args[target["number"]]["votes"] == 28 and args[target["number"]]["votes_published"]
    assert set(args[target["number"]]["groups"].values()) == {None}
    other = next(a for a in summary["arguments"] if a["text"] == PRO[1])
    assert None not in other["groups"].values()


def test_nothing_identifies_a_participant(summary: Summary) -> None:
    text = json.dumps(summary, ensure_ascii=False)
    assert not re.search(r"\bp\d+\b", text), "a participant alias leaked"
    for i in range(1, 20):
        assert str(ARGUMENT_ID_BASE + i) not in text, "an argument database id leaked"
    keys = {k for k in walk(summary) if isinstance(k, str)}
    assert not keys & {"author", "assignments", "members", "participant", "voter", "alias"}
    for arg in summary["arguments"]:
        assert "id" not in arg
    for point in analysis_of(summary)["map"]:
        assert len(point) == 3 and isinstance(point[0], float) and isinstance(point[1], float)
        assert point[2] in {"A", "B"}


def test_arguments_are_not_in_submission_order() -> None:
    data = planted_data()
    submitted = [a["number"] for a in data["arguments"] if not a["hidden"]]
    orders = {tuple(a["number"] for a in build_summary(data)["arguments"]) for _ in range(6)}
    # Shuffled with the system's randomness every time: six identical orders would be a
    # one in 11!^5 coincidence.
    assert len(orders) > 1
    assert all(sorted(order) == sorted(submitted) for order in orders)


def test_hidden_arguments_are_left_out() -> None:
    data = planted_data()
    summary = build_summary(data)
    texts = {a["text"] for a in summary["arguments"]}
    assert "Texte masqué par la modération." not in texts
    assert summary["hidden_arguments"] == 1
    assert "masqué" not in json.dumps(summary["themes"], ensure_ascii=False)


def test_reproducibility_block(summary: Summary) -> None:
    repro = summary["reproducibility"]
    analysis = analysis_of(summary)
    assert repro["schema_version"] == SUMMARY_SCHEMA_VERSION == summary["schema_version"]
    assert repro["analysis_version"] == analysis["analysis_version"]
    assert repro["seed"] == analysis["seed"] == 4242
    assert repro["participants"] == 29 and repro["positions"] == 29
    assert repro["arguments"] == len(summary["arguments"]) == 11
    assert repro["votes"] == summary["votes"] == analysis["votes"] == 26 * 10 + 2
    assert repro["voters"] == 26
    assert repro["participants_clustered"] == analysis["participants_clustered"]
    assert summary["vote_sign"] == {"agree": 1, "disagree": -1, "pass": 0}


def test_the_same_data_gives_the_same_figures() -> None:
    data = planted_data()
    first, second = build_summary(copy.deepcopy(data)), build_summary(copy.deepcopy(data))
    for key in ("tally", "top_arguments", "themes", "analysis", "reproducibility"):
        assert first[key] == second[key], key
    assert by_number(first) == by_number(second)


def test_themes_quote_real_arguments_verbatim(summary: Summary) -> None:
    themes = summary["themes"]
    assert themes["themes"], themes
    args = by_number(summary)
    for theme in themes["themes"]:
        assert theme["terms"] and theme["arguments"] >= 2
        assert 1 <= len(theme["quotes"]) <= 2
        keys = {fold(w) for term in theme["terms"] for w in term.split()}
        for quote in theme["quotes"]:
            original = args[quote["number"]]["text"]
            assert quote["text"] in original
            assert quote["excerpt"] == (quote["text"] != original)
            words = {fold(w) for w in re.findall(r"[^\W\d_]+", original)}
            assert keys & words, (theme, original)
        for term in theme["terms"]:
            assert all(fold(w) not in STOP_WORDS for w in term.split())
    # The planted debate's recurring subjects show up as themes.
    all_terms = {t for theme in themes["themes"] for t in theme["terms"]}
    assert {"livreurs", "statut"} <= all_terms


def test_themes_are_deterministic_and_independent_of_order(summary: Summary) -> None:
    pairs = [(a["number"], a["text"]) for a in summary["arguments"]]
    reference = extract_themes(pairs)
    for seed in range(5):
        shuffled = pairs[:]
        random.Random(seed).shuffle(shuffled)
        assert extract_themes(shuffled) == reference
    assert summary["themes"] == reference


def test_themes_in_french_and_english() -> None:
    french = [
        (3, "Les Données personnelles doivent être protégées."),
        (8, "Protéger les donnees personnelles, c'est protéger la démocratie."),
        (15, "La démocratie exige la transparence des algorithmes."),
        (21, "Les algorithmes et la transparence : une question de démocratie."),
    ]
    english = [
        (30, "Platforms should share their data with the public."),
        (31, "Public access to platform data would help researchers."),
        (32, "The workers of these platforms need a minimum wage."),
        (33, "A minimum wage for platform workers is overdue."),
    ]
    found = extract_themes(french + english, max_themes=6)
    terms = [t for theme in found["themes"] for t in theme["terms"]]
    folded = {fold(w) for t in terms for w in t.split()}
    # Accents and plurals are folded for matching, and shown as most often written.
    assert "données personnelles" in terms or "données" in terms
    assert {"algorithme", "transparence", "platform", "minimum", "wage"} <= folded
    assert not folded & {fold(w) for w in ("the", "with", "should", "les", "être", "une")}
    quoted = {q["number"] for theme in found["themes"] for q in theme["quotes"]}
    assert quoted <= {n for n, _ in french + english}


def test_long_arguments_are_quoted_by_their_best_sentence() -> None:
    filler = "Ceci est une phrase de remplissage sans grand intérêt pour le sujet. " * 6
    long_text = filler + "Le logiciel libre garantit la souveraineté numérique des communes."
    found = extract_themes(
        [
            (1, long_text),
            (2, "Le logiciel libre et la souveraineté numérique vont ensemble."),
            (3, "Sans logiciel libre, aucune souveraineté numérique."),
            (4, "Les communes manquent de moyens pour former leurs agents."),
            (5, "Former les agents coûte moins cher que les licences."),
        ]
    )
    quotes = [q for theme in found["themes"] for q in theme["quotes"] if q["number"] == 1]
    assert quotes
    assert quotes[0]["excerpt"] and quotes[0]["text"] in long_text
    assert "souveraineté" in quotes[0]["text"] and len(quotes[0]["text"]) <= 280


def test_no_votes_means_no_analysis_but_a_summary() -> None:
    data = planted_data()
    data["votes"] = []
    summary = build_summary(data)
    assert summary["analysis"] is None and summary["top_arguments"] == []
    assert summary["reproducibility"]["analysis_version"] is None
    assert summary["reproducibility"]["participants_clustered"] == 0
    assert summary["tally"] is not None and summary["themes"]["themes"]
    assert all(a["votes"] == 0 and a["support"] is None for a in summary["arguments"])


def test_a_failing_analysis_still_gives_a_summary(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bot.summary.analysis as analysis

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(analysis, "analyze", broken)
    summary = build_summary(planted_data())
    assert summary["analysis"] is None
    assert summary["tally"] is not None and all(
        a["votes_published"] is not None for a in summary["arguments"]
    )
    assert "analysis failed" in caplog.text


def test_a_copied_argument_is_not_a_recurring_term() -> None:
    copied = "Les coopératives montrent qu'un autre modèle est possible."
    found = extract_themes([(4, copied), (9, copied), (12, "Un tout autre sujet, enfin.")])
    assert found["terms"] == [] and found["themes"] == []


def test_an_argument_that_divides_is_not_also_agreed_or_rejected_by_all() -> None:
    """The consensus (all voters' rates) and what divides (the groups' differences) can both
    name one argument; it is then listed as divisive only, never as 'Largement rejeté' too."""
    from typing import cast

    from bot.summary import _apart_from_divisive
    from bot.summary.model import Analysis

    # Only the keys the rule reads: a partial analysis, deliberately.
    analysis = cast(
        Analysis, {"divisive": [65, 7], "consensus": {"agree": [3, 7], "disagree": [196, 65]}}
    )
    _apart_from_divisive(analysis)
    assert analysis["consensus"] == {"agree": [3], "disagree": [196]}
    assert analysis["divisive"] == [65, 7]
