"""The chart stands alone: title with the question, round code and date; a key for the map;
integer ticks for counts; the language's number format; no point of a withheld group; and
alt text, held by the summary's document, in the HTML."""

from __future__ import annotations

import html
import re
from typing import Any, TypedDict, cast

import matplotlib.pyplot as plt
import numpy as np
import pytest
from planted_round import analysis_of, planted_data, planted_with_small_group

from bot.summary import build_summary
from bot.summary.charts import chart_figure
from bot.summary.export import render_html
from bot.summary.model import Summary
from bot.summary.sections import summary_document


class Drawn(TypedDict):
    title: str
    texts: list[str]
    ticks: list[float]
    xlim: tuple[float, float]
    key: str
    points: int


def _drawn(summary: Summary) -> Drawn:
    fig = chart_figure(summary)
    assert fig is not None
    try:
        axes = fig.get_axes()
        return {
            "title": fig.get_suptitle(),
            "texts": [t.get_text() for ax in axes for t in ax.texts],
            "ticks": [float(t) for t in axes[0].get_xticks()],
            "xlim": axes[0].get_xlim(),
            "key": axes[-1].get_xlabel(),
            "points": sum(len(np.asarray(c.get_offsets())) for ax in axes for c in ax.collections),
        }
    finally:
        plt.close(fig)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_chart_says_what_round_it_is_of(language: str) -> None:
    data = planted_data()
    data["language"] = language
    drawn = _drawn(build_summary(data))
    title = " ".join(drawn["title"].split())
    assert "K7Q2" in title and "2026-11-09" in title
    assert "Faut-il réguler les plateformes numériques ?" in title
    key = " ".join(drawn["key"].split())
    if language == "fr":
        assert (
            key == "Chaque point est une personne ; des points proches ont voté de la même façon."
        )
    else:
        assert key == "Each dot is a person; dots close together voted alike."


def test_counts_have_integer_ticks_and_the_language_number_format() -> None:
    data = planted_data()
    fr = _drawn(build_summary(data))
    shown = [t for t in fr["ticks"] if fr["xlim"][0] <= t <= fr["xlim"][1]]
    assert shown and all(t == int(t) for t in shown)
    bars = [t for t in fr["texts"] if t.endswith("%)")]
    assert "14 (48,3 %)" in bars and not any("." in t for t in bars)
    data["language"] = "en"
    en = _drawn(build_summary(data))
    bars = [t for t in en["texts"] if t.endswith("%)")]
    assert "14 (48.3%)" in bars and not any(" %" in t for t in bars)


def test_small_counts_have_no_fractional_ticks() -> None:
    data = planted_data(camp_a=6, camp_b=6)
    drawn = _drawn(build_summary(data))
    shown = [t for t in drawn["ticks"] if drawn["xlim"][0] <= t <= drawn["xlim"][1]]
    assert all(t == int(t) for t in shown), shown


def test_no_point_of_a_withheld_group_is_drawn() -> None:
    data, _ = planted_with_small_group(small=2)
    summary = build_summary(data)
    published = sum(g["size"] for g in analysis_of(summary)["groups"])
    assert _drawn(summary)["points"] == published
    # A first-schema summary's bare points may hold a withheld group's members: with a group
    # not described, none is drawn.
    # Deliberately old-schema (its withheld group has no label, centre or representatives):
    # built as plain dicts, then cast to the Summary the renderers take.
    old = cast(dict[str, Any], dict(summary))
    analysis = cast(dict[str, Any], dict(analysis_of(summary)))
    analysis["groups"] = [*analysis["groups"], {"id": 9, "size": 2, "published": False}]
    analysis["map"] = [[float(p[0]), float(p[1])] for p in analysis["map"]]
    old["analysis"] = analysis
    assert _drawn(cast(Summary, old))["points"] == 0


def test_the_alt_text_describes_the_chart_and_is_in_the_html() -> None:
    summary = build_summary(planted_data())
    doc = summary_document(summary)
    alt = doc.chart_alt
    assert "K7Q2" in alt and "Faut-il réguler les plateformes numériques ?" in alt
    assert "Pour : 14 (48,3 %)" in alt and "chaque point est une personne" in alt
    assert doc.chart_caption == "Répartition des positions et carte des opinions"
    page = render_html(summary)
    found = re.search(r'<img id="chart" alt="([^"]*)"', page)
    assert found and html.unescape(found.group(1)) == alt
    # Without groups, the caption promises no map.
    tally_only = build_summary(planted_data(camp_a=8, camp_b=6, min_group_size=7))
    doc = summary_document(tally_only)
    assert doc.chart_caption == "Répartition des positions" and "carte" not in doc.chart_alt
