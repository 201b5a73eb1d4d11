"""Rendering a stored summary: chat text and the moderator exports (md, csv, json, html).

Every renderer reads the published summary only (``docs/summary-schema.md``), so nothing an
export shows can be more identifying than the summary itself. The chat text, Markdown and HTML
lay out the same sections (:mod:`bot.summary.sections`, drawn by
:mod:`bot.summary.renderers`); the CSV lists the arguments, the JSON is the summary itself.
Member text is escaped for the target format: Markdown-escaped in chat and ``md`` (with ``&``
written ``&amp;`` in ``md``, so that no character reference can render as an invisible
character), HTML-escaped in ``html``, and guarded against spreadsheet formula injection in
``csv`` (see :func:`_csv_cell`). In every format, bidi controls, zero-width and other
invisible format characters are dropped from it (see :func:`bot.summary.renderers.visible`).
Summaries stored by an older schema version lack some sections; every renderer treats a
missing section as empty.

The export formats are listed once, in :data:`FORMATS`: :func:`export_format_names` gives
their names (for command choices), :func:`export_mime` a format's MIME type and
:func:`export_label` its name for people, in a language.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.events import Attachment
from bot.summary.model import Summary
from bot.summary.renderers import (
    CHAT_MAX_ARGUMENTS,
    CHAT_TEXT_CHARS,
    chat_text,
    escape_html,
    html_body,
    markdown,
    visible,
)
from bot.summary.sections import summary_document
from bot.summary.view import SummaryView

__all__ = [
    "CHAT_MAX_ARGUMENTS",
    "CHAT_TEXT_CHARS",
    "CSV_COLUMNS",
    "EXPORT_FORMATS",
    "FORMATS",
    "ExportFormat",
    "export_format",
    "export_format_names",
    "export_label",
    "export_mime",
    "export_rounds",
    "export_summary",
    "render_csv",
    "render_html",
    "render_json",
    "render_markdown",
    "render_summary_text",
]

CSV_COLUMNS = (
    "number",
    "text",
    "stance",
    "stance_label",
    "votes",
    "agree",
    "disagree",
    "pass",
    "support",
    "consensus",
    "divisive",
    "common_ground",
    "common_ground_intercept",
    "common_ground_factor",
    "carried_from",
)


def render_summary_text(summary: Summary) -> str:
    """The summary as posted in chat: concise light Markdown, member text escaped."""
    return chat_text(summary_document(summary))


def render_markdown(summary: Summary) -> str:
    """The full summary as a Markdown document (member text escaped)."""
    return markdown(summary_document(summary))


def render_json(summary: Summary) -> str:
    """The whole summary, keys sorted (see ``docs/summary-schema.md``)."""
    return json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------------- csv

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list; tab and
# carriage return are handled apart, see _csv_cell).
_FORMULA_SIGNS = "=+\\-@"
# Where a cell may start, depending on how the file is read: at the start of a field; after
# ";" (a French spreadsheet splits on it, inside quoted text too) or "," (a careless importer
# ignores quotes) or a tab; after any line break (a reader that splits on ";" starts a new row
# at a line break inside quoted text, and some split lines the Unicode way). Whitespace and
# quotes in between protect nothing: readers trim spaces and take quotes as quoting.
_CELL_START = re.compile(
    r"((?:^|[,;\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])[\s\"]*)([" + _FORMULA_SIGNS + r"])"
)


def _csv_cell(value: object) -> str:
    """One CSV cell that starts no formula however the file is split (``,``, ``;``, tab).

    In text, a ``'`` is put before every sign that could start a cell as a formula: the text
    stays readable and a spreadsheet shows it as text. Tabs become spaces and carriage
    returns line breaks, as input cleaning does (a cell must not start with either). A
    negative number (a bridging factor) is written with U+2212 MINUS SIGN, never "-": a
    spreadsheet reads it as text, not as a formula.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = str(value)  # "-0.0" too starts with "-"
        return "\u2212" + number[1:] if number.startswith("-") else number
    text = visible(str(value)).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CELL_START.sub(r"\1'\2", text)


def _csv_writer(out: io.StringIO) -> Callable[[list[object]], None]:
    writer = csv.writer(out, lineterminator="\n")
    return lambda row: writer.writerow([_csv_cell(cell) for cell in row])


def render_csv(summary: Summary) -> str:
    """One row per argument; no pseudonym or participant identifier of any kind.

    Columns: :data:`CSV_COLUMNS`, then ``agree_share_<group>`` for each published group;
    ``carried_from`` is the code of the round an argument was carried over from, if it was.
    Withheld figures are empty cells, and so are the bridging intercept and factor of an
    argument that is not common ground (they are published for those arguments only). A
    factor can be negative: :func:`_csv_cell` writes it with a minus sign, never "-".
    """
    v = SummaryView(summary)
    groups = [v.group_label(g) for g in v.published_groups()]
    consensus = v.consensus()
    divisive = set(v.divisive())
    common = {int(e["number"]): e for e in v.common_ground()}
    out = io.StringIO()
    write = _csv_writer(out)
    write([*CSV_COLUMNS, *(f"agree_share_{label}" for label in groups)])

    def blank(value: object) -> object:
        return "" if value is None else value

    for arg in v.sorted_args():
        number = int(arg["number"])
        in_consensus = (
            "agree"
            if number in consensus["agree"]
            else "disagree"
            if number in consensus["disagree"]
            else ""
        )
        shares = arg.get("groups") or {}
        write(
            [
                number,
                arg["text"],
                arg["stance"] or "",
                v.stance_label(arg["stance"]) if arg["stance"] else "",
                arg["votes"],
                blank(arg["agree"]),
                blank(arg["disagree"]),
                blank(arg["pass"]),
                blank(v.support(arg)),
                in_consensus,
                int(number in divisive),
                int(number in common),
                blank(common[number]["intercept"] if number in common else None),
                blank(common[number]["factor"] if number in common else None),
                v.carried_from(number) or "",
                *(blank(shares.get(label)) for label in groups),
            ]
        )
    return out.getvalue()


# ---------------------------------------------------------------------------------- html

_CSS = """
:root{color-scheme:light;--ink:#1d2430;--muted:#5b6472;--line:#d5d9e0;--band:#f3f5f8;
--agree:#1b7f4b;--disagree:#b3261e;--accent:#2f5d9e}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);max-width:62rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.7rem;margin:0 0 .2rem}h2{font-size:1.25rem;margin:1.8rem 0 .6rem;
border-bottom:2px solid var(--line);padding-bottom:.2rem}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
.meta,.note{color:var(--muted);font-size:.9rem}
#question{font-size:1.35rem;border:0;margin-top:.8rem}
blockquote{color:#3a4250;border-left:4px solid var(--line);margin:.6rem 0;padding:.2rem 1rem}
.scroll{max-width:100%;overflow-x:auto;margin:.4rem 0 1rem}
table{border-collapse:collapse;width:100%;margin:0;font-size:.92rem}
th,td{border:1px solid var(--line);padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:var(--band)}#tally{width:auto;min-width:min(24rem,100%)}td.nowrap{white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
td.text,.quote{white-space:pre-wrap;overflow-wrap:anywhere}td.text{min-width:14rem}
figure{margin:1rem 0}figure img{display:block;max-width:100%;height:auto;
border:1px solid var(--line)}
figcaption{color:var(--muted);font-size:.85rem}
ul.args{padding-left:1.2rem}ul.args li{margin:.3rem 0}
.num{font-weight:600;color:var(--accent);white-space:nowrap}
.agree{color:var(--agree);font-weight:600}.disagree{color:var(--disagree);font-weight:600}
.theme{border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem;margin:.6rem 0}
.terms{font-weight:600}
footer{margin-top:2rem;border-top:1px solid var(--line);padding-top:.6rem}
hr.round{margin:3rem 0;border:0;border-top:3px double var(--line)}
@media (max-width:40rem){body{margin:1rem auto;padding:0 .6rem}h1{font-size:1.35rem}
#question{font-size:1.15rem}th,td{padding:.3rem .35rem}}
@page{margin:1.5cm}
@media print{body{font-size:10.5pt;max-width:none;margin:0;padding:0}
h2{break-after:avoid}tr,.theme,figure,li{break-inside:avoid}thead{display:table-header-group}
th{background:#eee!important;-webkit-print-color-adjust:exact;print-color-adjust:exact}
hr.round{break-after:page;border:0}}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _html_page(language: str, title: str, bodies: list[str]) -> str:
    escape = escape_html
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{escape(language)}"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            '\n<hr class="round">\n'.join(bodies),
            "</body></html>",
        ]
    )


def _chart_png(summary: Summary, *, narrow: bool = False) -> bytes | None:
    from bot.summary.charts import render_chart

    return render_chart(summary, narrow=narrow)


def render_html(summary: Summary, chart_png: bytes | None = None) -> str:
    """One self-contained page: inline CSS and chart, no external resource, printable.

    ``chart_png`` defaults to :func:`bot.summary.charts.render_chart` of the summary, with
    its narrow version for a phone's width; a given ``chart_png`` is shown at every width.
    Tables sit in boxes of their own that scroll sideways, so that at 390 px nothing
    overflows the page (``tests/summary/test_html_browser.py``).
    """
    doc = summary_document(summary)
    if chart_png is None:
        png, narrow = _chart_png(summary), _chart_png(summary, narrow=True)
    else:
        png, narrow = chart_png, None
    return _html_page(doc.view.language, doc.header.title, [html_body(doc, png, narrow)])


# ---------------------------------------------------------------------------------- formats


def _join_markdown(summaries: list[Summary]) -> bytes:
    return "\n\n---\n\n".join(render_markdown(s) for s in summaries).encode("utf-8")


def _join_json(summaries: list[Summary]) -> bytes:
    rounds = {"rounds": summaries}
    return (json.dumps(rounds, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode(
        "utf-8"
    )


def _join_csv(summaries: list[Summary]) -> bytes:
    """One table, with a leading ``round`` column; group columns differ from round to round:
    the header is their union, in order."""
    tables = [list(csv.reader(io.StringIO(render_csv(s), newline=""))) for s in summaries]
    header = list(CSV_COLUMNS)
    for table in tables:
        header += [c for c in table[0] if c not in header]
    out = io.StringIO()
    write = _csv_writer(out)
    write(["round", *header])
    for summary, table in zip(summaries, tables, strict=True):
        for row in table[1:]:
            # Cells come from render_csv, already guarded: guarding them again changes
            # nothing (every sign that could start a cell is preceded by "'" already).
            cells = dict(zip(table[0], row, strict=True))
            write([summary["round"]["code"], *(cells.get(c, "") for c in header)])
    return out.getvalue().encode("utf-8")


def _join_html(summaries: list[Summary]) -> bytes:
    first = summaries[0]
    title = str(first["round"].get("debate_title", first["round"]["code"]))
    bodies = [
        html_body(summary_document(s), _chart_png(s), _chart_png(s, narrow=True))
        for s in summaries
    ]
    return _html_page(str(first.get("language", "fr")), title, bodies).encode("utf-8")


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its name (the file extension), MIME type, label (a key of
    :data:`bot.i18n.SUMMARY_LABELS`), the rendering of one round and of several rounds."""

    name: str
    mime: str
    label: str
    render: Callable[[Summary], str]
    join: Callable[[list[Summary]], bytes]


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("md", "text/markdown", "choice_md", render_markdown, _join_markdown),
        ExportFormat("csv", "text/csv", "choice_csv", render_csv, _join_csv),
        ExportFormat("json", "application/json", "choice_json", render_json, _join_json),
        ExportFormat("html", "text/html", "choice_html", render_html, _join_html),
    )
}


def export_format_names() -> tuple[str, ...]:
    """The export formats' names, in the order commands offer them."""
    return tuple(FORMATS)


EXPORT_FORMATS = export_format_names()


def export_format(name: str) -> ExportFormat:
    """The export format called ``name`` (ValueError for an unknown one)."""
    try:
        return FORMATS[name]
    except KeyError:
        choices = ", ".join(FORMATS)
        raise ValueError(f"unknown export format {name!r}; choose from {choices}") from None


def export_mime(name: str) -> str:
    return export_format(name).mime


def export_label(name: str, language: str) -> str:
    """A format's name for people (``CSV (tableur)``), in ``language``."""
    from bot.i18n import CATALOGUES

    return CATALOGUES.get(language, CATALOGUES["en"])[export_format(name).label]


def export_summary(summary: Summary, fmt: str) -> Attachment:
    """One export file for a summary."""
    chosen = export_format(fmt)
    rnd = summary["round"]
    data = chosen.render(summary).encode("utf-8")
    return Attachment(f"debat-{rnd['debate_id']}-{rnd['code']}.{fmt}", data, chosen.mime)


def export_rounds(summaries: list[Summary], fmt: str) -> bytes:
    """Several rounds in one file (``debate-bot export --debate``)."""
    chosen = export_format(fmt)
    if len(summaries) == 1:
        return export_summary(summaries[0], fmt).data
    return chosen.join(summaries)
