"""Hostile member text in the exports: CSV formula injection, invisible characters in Markdown.

The texts below bypass the input cleaning (``bot.text.clean_member_text``) on purpose: the
exports must be safe on their own, whatever a stored summary holds.
"""

from __future__ import annotations

import copy
import csv
import html
import io
import re
import unicodedata

import pytest
from planted_round import planted_data

from bot.render import markdown_to_html
from bot.summary import build_summary
from bot.summary.export import (
    export_rounds,
    render_csv,
    render_html,
    render_markdown,
    render_summary_text,
)
from bot.summary.model import RoundData, Summary
from bot.text import _INVISIBLE

# ------------------------------------------------------------------------------------- csv

HOSTILE_CSV = [
    "=1+1",
    "x ;=1+1;",
    "a,@SUM(1)",
    "\t=cmd",
    "\r=x",
    "-2+3",
    "+x",
    "@SUM(A1)",
    "   =1+1",  # leading spaces do not protect: some spreadsheets trim them
    'fin ; "=1+1"',  # nor does a quote: the reader takes it as the start of a quoted cell
    'fin ;""-1',
    "ligne\n=1+1",  # a reader that splits on ";" starts a new row at the line break
    "ligne\r\n@cmd",
    "a;\t-1",
    "a; ;+1",
    "a\u2028=1",  # a line separator, for readers that split lines the Unicode way
    "bien - mal, +/- 5 %",  # a naive reader splits on every ","
    "bien - mal : un texte ordinaire, sans formule",
]
FORMULA_START = ("=", "+", "-", "@")


def is_formula(cell: str) -> bool:
    """Whether a spreadsheet could take the cell for a formula (OWASP's list of signs).

    Leading whitespace and quotes are skipped, as a trimming or quote-aware reader would.
    """
    if cell[:1] in ("\t", "\r"):
        return True
    return re.sub(r'^[\s"]+', "", cell)[:1] in FORMULA_START


def hostile_round(texts: list[str], *, votes: bool = True) -> RoundData:
    """The planted round with one more argument per hostile text."""
    data = planted_data()
    if not votes:
        data["votes"] = []
    for i, text in enumerate(texts):
        data["arguments"].append(
            {"id": 800_000 + i, "number": 100 + i, "text": text, "author": "p0", "hidden": False}
        )
    data["stance_labels"]["nuance"] = ";=Nuancé"  # configuration text goes through it too
    return data


def cells(text: str, delimiter: str) -> list[str]:
    """Every cell of a CSV file read with ``delimiter``, two ways: as Python's csv module reads
    it, and split naively (lines split the Unicode way, then on every delimiter, quotes or
    not), as a careless importer would."""
    found = [
        c for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) for c in row
    ]
    found += [c for line in text.splitlines() for c in line.split(delimiter)]
    return found


def rows_of(summary: Summary) -> list[list[str]]:
    return list(csv.reader(io.StringIO(render_csv(summary), newline="")))[1:]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_no_csv_cell_starts_like_a_formula(delimiter: str) -> None:
    summary = build_summary(hostile_round(HOSTILE_CSV))
    bad = [c for c in cells(render_csv(summary), delimiter) if is_formula(c)]
    assert not bad, bad
    # Several rounds in one file: the same cells, re-read and written again.
    other = build_summary(hostile_round(HOSTILE_CSV[::-1]))
    other["round"] = {**other["round"], "code": "Z9Z9"}
    both = export_rounds([summary, other], "csv").decode()
    assert not [c for c in cells(both, delimiter) if is_formula(c)]
    assert len(list(csv.reader(io.StringIO(both, newline="")))) == 1 + 2 * len(rows_of(summary))


def test_csv_text_stays_readable() -> None:
    summary = build_summary(hostile_round(HOSTILE_CSV))
    rows = list(csv.DictReader(io.StringIO(render_csv(summary), newline="")))
    shown = {int(r["number"]): r["text"] for r in rows}
    for i, text in enumerate(HOSTILE_CSV):
        cell = shown[100 + i]
        # Only a "'" is added in front of a sign that could start a formula, and tabs and
        # carriage returns (which input cleaning never lets through) become a space and a
        # line break.
        typed = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
        assert cell.replace("'", "") == typed.replace("'", ""), (text, cell)
        assert cell.count("'") - typed.count("'") <= len(re.findall(r"[=+\-@]", typed))
    assert shown[116] == "bien - mal, '+/- 5 %"
    assert shown[117] == "bien - mal : un texte ordinaire, sans formule"  # left as typed
    assert shown[100] == "'=1+1" and shown[101] == "x ;'=1+1;" and shown[102] == "a,'@SUM(1)"
    labels = {r["stance_label"] for r in rows}
    assert ";'=Nuancé" in labels


def test_negative_numbers_are_written_with_a_minus_sign() -> None:
    """No column is negative today (counts, shares and 0/1 flags); should one ever be, its
    cells must not start with "-" either: they are written with U+2212 MINUS SIGN."""
    summary = copy.deepcopy(build_summary(planted_data()))
    arg = next(a for a in summary["arguments"] if a["votes_published"])
    arg["support"], arg["agree"] = -12.5, -1
    rows = list(csv.DictReader(io.StringIO(render_csv(summary), newline="")))
    row = next(r for r in rows if int(r["number"]) == arg["number"])
    assert row["support"] == "\u221212.5" and row["agree"] == "\u22121"
    assert float(row["support"].replace("\u2212", "-")) == -12.5


# ------------------------------------------------------------------------------- markdown

# Entities that a Markdown or HTML renderer turns into bidi or zero-width characters, and the
# characters themselves.
HOSTILE_MD = [
    "\u202eRLO\u202c \u2066isolé\u2069 \u200bzws \u061calm \ufeffbom \u00adshy \U000e0041tag",
    "&rlm;droite",
    "&lrm;gauche",
    "&ZeroWidthSpace;caché",
    "&#8207;numérique",
    "&#x200B;hexa",
    "&#X200b;HEXA",
    "&#x202E;renversé",
    "&#8238sans point-virgule",
    "&NoBreak;&zwj;&zwnj;&#xFEFF;&#x2066;&#x061C;",
    "&amp;rlm; déjà échappé",
    "@everyone &#64;here @room",
]


def invisible(ch: str) -> bool:
    """Bidi controls, zero-width and other format characters (Unicode category Cf)."""
    return ch in _INVISIBLE or unicodedata.category(ch) == "Cf"


def test_markdown_holds_no_invisible_character_or_entity() -> None:
    summary = build_summary(hostile_round(HOSTILE_MD))
    md = render_markdown(summary)
    assert not [hex(ord(c)) for c in md if invisible(c)]
    # What a renderer shows once it has decoded the character references (html.unescape
    # follows HTML's rules: named, numeric, even without the final semicolon).
    assert not [hex(ord(c)) for c in html.unescape(md) if invisible(c)]
    # Member text still shows as typed, references included, visible characters kept (once
    # the Markdown escapes are read too).
    shown = re.sub(r"\\(.)", r"\1", html.unescape(md))
    assert "&rlm;droite" in shown and "&#8238sans point-virgule" in shown
    assert "&amp;rlm; déjà échappé" in shown
    assert "RLO isolé zws alm bom shy tag" in shown
    # Mass mentions stay unable to ping, without a zero-width joiner.
    assert not re.search(r"@(everyone|here|room)", md)
    assert "@everyone" in shown and "@room" in shown


def test_chat_text_and_html_hold_no_member_supplied_invisible_character() -> None:
    # Without votes, the chat text lists the arguments (the first ten by number).
    summary = build_summary(hostile_round(HOSTILE_MD, votes=False))
    summary["arguments"] = [a for a in summary["arguments"] if a["number"] >= 100]
    text = render_summary_text(summary)
    # The one zero-width character allowed is the bot's own word joiner after "@" in a mass
    # mention (chat clients would ping otherwise); Matrix gets the text as escaped HTML.
    assert not [hex(ord(c)) for c in text.replace("@\u2060", "@") if invisible(c)]
    for rendered in (html.unescape(markdown_to_html(text)), html.unescape(render_html(summary))):
        assert not [hex(ord(c)) for c in rendered.replace("@\u2060", "@") if invisible(c)]
    assert "RLO isolé" in text and "&rlm;droite" in text
