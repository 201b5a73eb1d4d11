"""Every export format of a summary: md, csv, json, html, the chat text and multi-round files."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
from planted_round import LATE, TRICKY, analysis_of, planted_data

from bot.summary import build_summary
from bot.summary.charts import render_chart
from bot.summary.export import (
    CSV_COLUMNS,
    EXPORT_FORMATS,
    export_rounds,
    export_summary,
    render_csv,
    render_html,
    render_markdown,
    render_summary_text,
)
from bot.summary.model import Summary

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "summary-schema.md"


@pytest.fixture(scope="module")
def summary() -> Summary:
    return build_summary(planted_data(tricky=True))


def documented_schema() -> dict[str, Any]:
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "docs/summary-schema.md holds one JSON Schema block"
    schema: dict[str, Any] = json.loads(blocks[0])
    return schema


def test_every_format_renders(summary: Summary) -> None:
    mimes = {"md": "text/markdown", "csv": "text/csv", "json": "application/json"}
    mimes["html"] = "text/html"
    for fmt in EXPORT_FORMATS:
        attachment = export_summary(summary, fmt)
        assert attachment.filename == f"debat-capitalisme-numerique-K7Q2.{fmt}"
        assert attachment.mime == mimes[fmt]
        text = attachment.data.decode("utf-8")
        assert "La transparence des algorithmes publics" in text
        if fmt != "csv":
            assert "Faut-il réguler les plateformes numériques" in text
    with pytest.raises(ValueError):
        export_summary(summary, "pdf")


def test_csv_has_one_row_per_argument(summary: Summary) -> None:
    rows = list(csv.reader(io.StringIO(render_csv(summary))))
    header, body = rows[0], rows[1:]
    groups = [g["label"] for g in analysis_of(summary)["groups"] if g["published"]]
    assert header == [*CSV_COLUMNS, *(f"agree_share_{label}" for label in groups)]
    assert len(groups) == 2
    assert len(body) == len(summary["arguments"])
    records = [dict(zip(header, row, strict=True)) for row in body]
    assert [int(r["number"]) for r in records] == sorted(a["number"] for a in summary["arguments"])
    by_number = {a["number"]: a for a in summary["arguments"]}
    consensus = analysis_of(summary)["consensus"]["agree"]
    for record in records:
        arg = by_number[int(record["number"])]
        assert record["text"] == arg["text"]
        assert record["stance"] == arg["stance"]
        assert record["votes"] == str(arg["votes"])
        if arg["votes_published"]:
            assert [int(record[k]) for k in ("agree", "disagree", "pass")] == [
                arg["agree"],
                arg["disagree"],
                arg["pass"],
            ]
            assert float(record["support"]) == arg["support"]
            for label in groups:
                assert float(record[f"agree_share_{label}"]) == arg["groups"][label]
        else:
            assert record["text"] == LATE
            assert record["agree"] == record["support"] == "" == record["agree_share_A"]
        assert record["consensus"] == ("agree" if arg["number"] in consensus else "")
    text = render_csv(summary)
    assert not re.search(r"\bp\d+\b", text)


def test_csv_cells_never_run_as_formulas() -> None:
    data = planted_data()
    data["arguments"][0]["text"] = '=HYPERLINK("http://exemple.org","clic")'
    summary = build_summary(data)
    rows = list(csv.DictReader(io.StringIO(render_csv(summary))))
    cell = next(r["text"] for r in rows if "HYPERLINK" in r["text"])
    assert cell == "'" + data["arguments"][0]["text"]


def test_json_round_trips_and_follows_the_documented_schema(summary: Summary) -> None:
    exported = json.loads(export_summary(summary, "json").data)
    assert exported == summary
    schema = documented_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(exported, schema, cls=jsonschema.Draft202012Validator)
    # The same schema holds for summaries with nothing to publish and with no votes.
    sparse = planted_data(min_group_size=100)
    jsonschema.validate(build_summary(sparse), schema, cls=jsonschema.Draft202012Validator)
    silent = planted_data()
    silent["votes"] = []
    jsonschema.validate(build_summary(silent), schema, cls=jsonschema.Draft202012Validator)
    assert exported["vote_sign"] == {"agree": 1, "disagree": -1, "pass": 0}
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    assert "| agree    |    +1 |" in text and "| disagree |    −1 |" in text


def test_the_schema_rejects_leaks() -> None:
    schema = documented_schema()
    leaky = build_summary(planted_data())
    # Deliberately malformed: an argument carrying its author's alias, a key no published
    # argument has, so it is set through a plain dict.
    leaky_argument = cast(dict[str, Any], leaky["arguments"][0])
    leaky_argument["author"] = "p3"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(leaky, schema, cls=jsonschema.Draft202012Validator)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escapes_member_text(summary: Summary) -> None:
    page = render_html(summary)
    assert "<script>" not in page and "alert('x')</script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;attention&lt;/b&gt;" in page
    parser = _Collect()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for _, attrs in parser.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:image/png;base64,"), value
    ids = {attrs.get("id") for _, attrs in parser.tags}
    assert {
        "tally",
        "chart",
        "arguments",
        "groups",
        "consensus",
        "themes",
        "top-arguments",
    } <= ids
    assert "@media print" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # The member text shows as typed once the page is parsed.
    assert TRICKY in "".join(parser.text)


def test_markdown_escapes_member_text(summary: Summary) -> None:
    md = render_markdown(summary)
    assert TRICKY not in md
    assert r"\<script\>alert('x')\</script\> \| colonne \| et \*\*gras\*\*" in md
    assert r"\[lien\](http://exemple.org)" in md
    # A document holds no zero-width character: the "@" of a mass mention is a reference.
    assert "@everyone" not in md and "&#64;everyone" in md and "\u2060" not in md
    for heading in ("Arguments les plus soutenus", "Groupes d'opinion", "Thèmes"):
        assert f"### {heading}" in md
    assert "Reproductibilité" in md and "graine 4242" in md
    assert "d'accord = +1, pas d'accord = −1, passe = 0" in md


def test_chat_text_is_concise_and_escaped(summary: Summary) -> None:
    text = render_summary_text(summary)
    assert text.startswith("**Synthèse du tour K7Q2")
    assert "Participants : 29." in text
    assert "• Pour : 14 (48,3 %)" in text
    for heading in ("Arguments les plus soutenus", "Consensus entre les groupes", "Thèmes"):
        assert f"**{heading}**" in text
    assert "**Groupes d'opinion**" in text and "Groupe A (" in text
    assert TRICKY not in text and r"\<script\>" in text
    assert "@everyone" not in text
    assert not re.search(r"\bp\d+\b", text)
    # Concise: every argument line is shortened, and the whole post stays a chat message.
    assert all(len(line) < 400 for line in text.splitlines())
    assert len(text) < 4000


def test_chat_text_without_votes_lists_the_arguments() -> None:
    data = planted_data()
    data["votes"] = []
    text = render_summary_text(build_summary(data))
    assert "Arguments (11) :" in text
    assert "Groupes" not in text and "plus soutenus" not in text


def test_english_summary() -> None:
    data = planted_data()
    data["language"] = "en"
    summary = build_summary(data)
    text = render_summary_text(summary)
    assert "**Most supported arguments**" in text and "#" in text
    md = render_markdown(summary)
    assert "### Opinion groups" in md and "agree = +1, disagree = −1, pass = 0" in md
    assert "Stance distribution" in render_html(summary)


def test_withheld_figures_show_as_dashes() -> None:
    summary = build_summary(planted_data(min_group_size=100))
    text = render_summary_text(summary)
    assert "Trop peu de participants" in text
    page = render_html(summary)
    assert 'id="tally"' not in page
    assert "moins de 100 personnes" in page
    rows = list(csv.DictReader(io.StringIO(render_csv(summary))))
    assert all(r["agree"] == "" and r["stance"] == "" for r in rows)
    assert render_chart(summary) is None


def test_chart_is_a_png(summary: Summary) -> None:
    png = render_chart(summary)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert render_chart(summary) == png  # same summary, same bytes


def test_several_rounds_in_one_file(summary: Summary) -> None:
    other = build_summary(planted_data(seed=11))
    other["round"] = {**other["round"], "code": "Z9Z9"}
    rows = list(csv.reader(io.StringIO(export_rounds([summary, other], "csv").decode())))
    assert rows[0][:4] == ["round", "number", "text", "stance"]
    codes = {row[0] for row in rows[1:]}
    assert codes == {"K7Q2", "Z9Z9"}
    assert len(rows) == 1 + len(summary["arguments"]) + len(other["arguments"])
    assert json.loads(export_rounds([summary, other], "json"))["rounds"][1]["round"]["code"] == (
        "Z9Z9"
    )
    page = export_rounds([summary, other], "html").decode()
    assert page.count("<article") == 2 and page.count("<html") == 1
    assert page.count('id="chart"') == 2
    md = export_rounds([summary, other], "md").decode()
    assert "K7Q2" in md and "Z9Z9" in md
    assert export_rounds([summary], "json") == export_summary(summary, "json").data


def test_summaries_of_the_first_schema_still_render() -> None:
    # Deliberately an old-schema summary: it lacks the keys added since (themes, top
    # arguments, reproducibility, group labels…), so it is no Summary value, hence the cast.
    old = cast(
        Summary,
        {
            "schema_version": 1,
            "round": planted_data()["round"],
            "language": "fr",
            "min_group_size": 3,
            "participants": 4,
            "positions": 4,
            "tally": [
                {"stance": "pour", "label": "Pour", "count": 3, "share": 75.0},
                {"stance": "contre", "label": "Contre", "count": 1, "share": 25.0},
            ],
            "arguments": [
                {
                    "number": 12,
                    "text": "Un argument pour.",
                    "stance": "pour",
                    "votes": 3,
                    "agree": 3,
                    "disagree": 0,
                    "pass": 0,
                    "votes_published": True,
                }
            ],
            "hidden_arguments": 0,
            "votes": 3,
            "vote_sign": {"agree": 1, "disagree": -1, "pass": 0},
            "analysis": {
                "analysis_version": "0",
                "seed": 1,
                "participants": 3,
                "participants_clustered": 3,
                "statements": 1,
                "votes": 3,
                "groups": [
                    {
                        "id": 0,
                        "size": 3,
                        "published": True,
                        "centre": [0.1, 0.2],
                        "representative": [],
                    }
                ],
                "consensus": {"agree": [12], "disagree": []},
                "divisive": [],
                "map": [[0.1, 0.2], [0.0, 0.3], [0.2, 0.1]],
            },
        },
    )
    for fmt in EXPORT_FORMATS:
        assert export_summary(old, fmt).data
    assert "Un argument pour." in render_summary_text(old)
    assert render_chart(old) is not None
