"""The export format registry, the summary wording in the catalogues, and the code's size."""

from __future__ import annotations

from pathlib import Path

import pytest
from planted_round import planted_data

from bot.i18n import CATALOGUES
from bot.summary import build_summary
from bot.summary.export import (
    EXPORT_FORMATS,
    FORMATS,
    export_format,
    export_format_names,
    export_label,
    export_mime,
    export_rounds,
    export_summary,
)
from bot.summary.sections import summary_document
from bot.summary.view import SummaryView

SUMMARY_PACKAGE = Path(__file__).resolve().parents[2] / "bot" / "summary"


def test_the_registry_lists_every_format_once() -> None:
    assert export_format_names() == EXPORT_FORMATS == ("md", "csv", "json", "html")
    assert [f.name for f in FORMATS.values()] == list(EXPORT_FORMATS)
    assert {name: export_mime(name) for name in EXPORT_FORMATS} == {
        "md": "text/markdown",
        "csv": "text/csv",
        "json": "application/json",
        "html": "text/html",
    }
    assert export_label("csv", "fr") == "CSV (tableur)"
    assert export_label("csv", "en") == "CSV (spreadsheet)"
    assert export_label("md", "fr") == "Markdown (.md)"
    for name in EXPORT_FORMATS:
        for language in ("fr", "en"):
            assert export_format(name).label in CATALOGUES[language]
    for call in (lambda: export_format("pdf"), lambda: export_mime("pdf")):
        with pytest.raises(ValueError, match=r"unknown export format 'pdf'; choose from md, "):
            call()


def test_every_format_renders_through_the_registry() -> None:
    summary = build_summary(planted_data())
    for name, fmt in FORMATS.items():
        attachment = export_summary(summary, name)
        assert attachment.mime == fmt.mime
        assert attachment.data == fmt.render(summary).encode("utf-8")
        assert export_rounds([summary], name) == attachment.data
        assert export_rounds([summary, summary], name) == fmt.join([summary, summary])
    with pytest.raises(ValueError):
        export_rounds([summary], "pdf")


def test_numbers_and_dates_follow_the_catalogue() -> None:
    french = SummaryView(build_summary(planted_data()))
    data = planted_data()
    data["language"] = "en"
    english = SummaryView(build_summary(data))
    assert (french.pct(12.5), english.pct(12.5)) == ("12,5", "12.5")
    assert (french.pct_cell(40.0), english.pct_cell(None)) == ("40 %", "—")
    assert (french.dec(-0.125), english.dec(0.4)) == ("\u22120,12", "0.40")
    assert french.when("2026-11-09T08:00:00Z") == "2026-11-09 08:00"
    assert french.quote("texte", True) == "« texte […] »"


def test_the_sections_come_in_the_order_every_format_shows_them() -> None:
    doc = summary_document(build_summary(planted_data()))
    assert [s.id for s in doc.sections] == [
        "participation",
        "top-arguments",
        "consensus",
        "common-ground",
        "divisive",
        "groups",
        "themes",
        "all-arguments",
        "reproducibility",
    ]
    assert [s.id for s in doc.sections if not s.chat] == ["all-arguments", "reproducibility"]
