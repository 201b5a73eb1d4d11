"""Rendering a stored summary: chat text and the moderator exports (md, csv, json, html).

Every renderer reads the published summary only (``docs/summary-schema.md``), so nothing an
export shows can be more identifying than the summary itself. Member text is escaped for the
target format: Markdown-escaped in chat and ``md`` (with ``&`` written ``&amp;`` in ``md``, so
that no character reference can render as an invisible character), HTML-escaped in ``html``,
and guarded against spreadsheet formula injection in ``csv`` (see :func:`_csv_cell`). In every
format, bidi controls, zero-width and other invisible format characters are dropped from it
(see :func:`_visible`). Summaries stored by an older schema version lack some sections; every
renderer treats a missing section as empty.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.events import Attachment
from bot.i18n import SUMMARY_LABELS, Messages
from bot.text import _INVISIBLE, escape_markdown

EXPORT_FORMATS = ("md", "csv", "json", "html")
_MIME = {
    "md": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
    "html": "text/html",
}
CHAT_TEXT_CHARS = 160  # member text is shortened to this in chat; exports carry it in full
CHAT_MAX_ARGUMENTS = 10  # arguments listed in chat when there were no votes

# Labels for the sections the message catalogue does not cover (summary-only wording).
LABELS = SUMMARY_LABELS


# ---- Wording still to move into bot.i18n.SUMMARY_LABELS (the catalogue is not this module's
# to edit): the "Common ground" section. _View reads these keys after the catalogue's, so the
# catalogue wins as soon as it has them, and this dict can then be deleted.
def _visible(text: str) -> str:
    """``text`` without the characters that render as nothing or reorder what is shown.

    Bidi controls and marks, zero-width characters, and every other Unicode format character
    (category Cf: soft hyphen, tag characters, invisible operators…). Input cleaning drops
    most of them already; an export does not rely on it, whatever a stored summary holds.
    """
    return "".join(c for c in text if c not in _INVISIBLE and unicodedata.category(c) != "Cf")


def _chat(text: str) -> str:
    """Member (or configuration) text for the chat summary: visible, Markdown-escaped."""
    return escape_markdown(_visible(str(text)))


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
)


class _View:
    """Read helpers over one stored summary, tolerant of older schema versions."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.s = summary
        self.language = str(summary.get("language", "fr"))
        self.m = Messages(self.language)
        self.words = LABELS.get(self.language, LABELS["en"])
        self.args: list[dict[str, Any]] = list(summary.get("arguments") or [])
        self.by_number = {int(a["number"]): a for a in self.args}
        self.analysis: dict[str, Any] = summary.get("analysis") or {}
        self.min = int(summary.get("min_group_size", 0))

    def w(self, key: str, **fields: Any) -> str:
        return self.words[key].format(**fields)

    def pct(self, value: float | None) -> str:
        if value is None:
            return "—"
        text = f"{value:.1f}".removesuffix(".0")
        return text.replace(".", ",") if self.language == "fr" else text

    def pct_cell(self, value: float | None) -> str:
        """A percentage with its sign, or a dash when withheld."""
        return "—" if value is None else f"{self.pct(value)} %"

    def num(self, number: int) -> str:
        return self.w("num", n=number)

    def stance_label(self, stance: str | None) -> str:
        if stance is None:
            return "—"
        for row in list(self.s.get("stances") or []) + list(self.s.get("tally") or []):
            if row["stance"] == stance:
                return str(row["label"])
        return self.m.stance_label(stance)

    def sorted_args(self) -> list[dict[str, Any]]:
        """Arguments by number: numbers are random, so this order reveals nothing."""
        return sorted(self.args, key=lambda a: int(a["number"]))

    def groups(self) -> list[dict[str, Any]]:
        return list(self.analysis.get("groups") or [])

    def published_groups(self) -> list[dict[str, Any]]:
        return [g for g in self.groups() if g.get("published")]

    def undescribed(self) -> int:
        """How many clustered participants are in groups the summary does not describe.

        Since schema 3 withheld groups are not listed, and this count is either 0 or at least
        ``min_group_size`` (it is the number of clustered participants minus the published
        sizes, published anyway). Older summaries list their withheld groups, and a count next
        to them could pin their sizes down: nothing is said for them.
        """
        groups = self.groups()
        if any(not g.get("published") for g in groups):
            return 0
        clustered = int(self.analysis.get("participants_clustered") or 0)
        rest = clustered - sum(int(g["size"]) for g in groups)
        return rest if rest >= max(self.min, 1) else 0

    def groups_intro(self) -> str:
        groups = self.groups()
        clustered = int(self.analysis.get("participants_clustered") or 0)
        return self.w("groups_intro", clustered=clustered - self.undescribed(), count=len(groups))

    def undescribed_line(self) -> str | None:
        rest = self.undescribed()
        if not rest:
            return None
        key = "groups_others" if self.groups() else "groups_none"
        return self.w(key, count=rest, min=self.min)

    def group_label(self, group: dict[str, Any]) -> str:
        return str(group.get("label") or int(group["id"]) + 1)

    def consensus(self) -> dict[str, list[int]]:
        found = self.analysis.get("consensus") or {}
        return {
            "agree": [n for n in found.get("agree", []) if n in self.by_number],
            "disagree": [n for n in found.get("disagree", []) if n in self.by_number],
        }

    def divisive(self) -> list[int]:
        return [n for n in self.analysis.get("divisive") or [] if n in self.by_number]

    def common_ground(self) -> list[dict[str, Any]]:
        """The common-ground entries (schema 4), best first."""
        return [
            e for e in self.analysis.get("common_ground") or [] if e["number"] in self.by_number
        ]

    def dec(self, value: float) -> str:
        """A bridging figure, two decimals, with a real minus sign (and a decimal comma
        in French)."""
        text = f"{value:.2f}".replace("-", "\u2212")
        return text.replace(".", ",") if self.language == "fr" else text

    def common_ground_hint(self) -> str:
        from bot.summary.bridging import MAX_FACTOR, MIN_INTERCEPT

        return self.w(
            "common_ground_hint", intercept=self.dec(MIN_INTERCEPT), factor=self.dec(MAX_FACTOR)
        )

    def common_ground_line(self, entry: dict[str, Any]) -> str:
        return self.w(
            "common_ground_line",
            intercept=self.dec(entry["intercept"]),
            factor=self.dec(entry["factor"]),
            votes=entry["votes"],
        )

    def top(self) -> list[tuple[str, list[int]]]:
        """(heading, argument numbers) per stance, or overall when stances are withheld."""
        out = [
            (str(row.get("label") or self.stance_label(row["stance"])), list(row["arguments"]))
            for row in self.s.get("top_arguments") or []
            if row["arguments"]
        ]
        if out or self.s.get("tally") is not None:
            return out
        ranked = sorted(
            (a for a in self.args if a.get("votes_published") and a.get("agree")),
            key=lambda a: (-a["agree"] / a["votes"], -a["votes"], a["number"]),
        )
        return [(self.w("top_any"), [a["number"] for a in ranked[:3]])] if ranked else []

    def support(self, arg: dict[str, Any]) -> float | None:
        if not arg.get("votes_published"):
            return None
        value = arg.get("support")
        if value is None and arg.get("votes"):
            value = round(100 * arg["agree"] / arg["votes"], 1)
        return None if value is None else float(value)

    def themes(self) -> list[dict[str, Any]]:
        return list((self.s.get("themes") or {}).get("themes") or [])

    def terms(self) -> list[dict[str, Any]]:
        return list((self.s.get("themes") or {}).get("terms") or [])

    def repro(self) -> dict[str, Any]:
        found: dict[str, Any] = dict(self.s.get("reproducibility") or {})
        found.setdefault("schema_version", self.s.get("schema_version", 1))
        found.setdefault("analysis_version", self.analysis.get("analysis_version"))
        found.setdefault("themes_version", (self.s.get("themes") or {}).get("version"))
        found.setdefault("seed", self.analysis.get("seed"))
        found.setdefault("participants", self.s.get("participants"))
        found.setdefault("positions", self.s.get("positions"))
        found.setdefault("arguments", len(self.args))
        found.setdefault("votes", self.s.get("votes"))
        found.setdefault("participants_clustered", self.analysis.get("participants_clustered", 0))
        return found

    def repro_line(self) -> str:
        r = self.repro()
        return self.w(
            "repro_line",
            schema=r["schema_version"],
            analysis=r["analysis_version"] or self.w("no_analysis"),
            themes=r["themes_version"] or self.w("no_analysis"),
            seed=r["seed"],
            participants=r["participants"],
            positions=r["positions"],
            arguments=r["arguments"],
            votes=r["votes"],
            clustered=r["participants_clustered"],
        )

    def rep_line(self, rep: dict[str, Any], num: Callable[[int], str]) -> str:
        direction = self.w("agrees" if rep["direction"] == "agree" else "disagrees")
        share = rep.get("agree_share" if rep["direction"] == "agree" else "disagree_share")
        if share is None:
            return self.w("group_rep_noshare", direction=direction, num=num(rep["number"]))
        return self.w(
            "group_rep", direction=direction, num=num(rep["number"]), share=self.pct(share)
        )


def _when(iso: Any) -> str:
    """``2026-11-09T08:00:00Z`` as ``2026-11-09 08:00`` (summaries store UTC)."""
    try:
        return datetime.fromisoformat(str(iso)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(iso)


def _shorten(text: str, limit: int = CHAT_TEXT_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > 0 else limit].rstrip(" ,;:") + "…"


def export_summary(summary: dict[str, Any], fmt: str) -> Attachment:
    """One export file for a summary."""
    code = summary["round"]["code"]
    if fmt == "md":
        data = render_markdown(summary).encode("utf-8")
    elif fmt == "csv":
        data = render_csv(summary).encode("utf-8")
    elif fmt == "json":
        data = render_json(summary).encode("utf-8")
    elif fmt == "html":
        data = render_html(summary).encode("utf-8")
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return Attachment(f"debat-{summary['round']['debate_id']}-{code}.{fmt}", data, _MIME[fmt])


def render_json(summary: dict[str, Any]) -> str:
    """The whole summary, keys sorted (see ``docs/summary-schema.md``)."""
    return json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------------- chat text


def render_summary_text(summary: dict[str, Any]) -> str:
    """The summary as posted in chat: concise light Markdown, member text escaped."""
    v = _View(summary)
    m = v.m
    rnd = summary["round"]

    def quote(number: int) -> str:
        arg = v.by_number[number]
        return f"{v.num(number)} — {_chat(_shorten(arg['text']))}"

    lines = [f"**{m('summary_title', code=rnd['code'], question=rnd['question'])}**", ""]
    lines.append(m("summary_participation", participants=summary["participants"]))
    if summary["tally"] is None:
        lines.append(
            m("summary_too_few", participants=summary["positions"], min=summary["min_group_size"])
        )
    else:
        for row in summary["tally"]:
            lines.append(
                m(
                    "summary_tally_line",
                    stance=_chat(row["label"]),
                    count=row["count"],
                    share=v.pct(row["share"]),
                )
            )
    if not v.args:
        lines += ["", m("summary_no_arguments")]
        return "\n".join(lines)

    top = v.top()
    if top:
        lines += ["", f"**{v.w('top')}**"]
        for heading, numbers in top:
            lines.append(f"{_chat(heading)}{v.w('sep').rstrip()}")
            for number in numbers:
                arg = v.by_number[number]
                support = v.w("support_line", share=v.pct(v.support(arg)), votes=arg["votes"])
                lines.append(f"• {quote(number)} ({support})")
    consensus = v.consensus()
    if consensus["agree"] or consensus["disagree"]:
        lines += ["", f"**{v.w('consensus')}**"]
        for key in ("agree", "disagree"):
            for number in consensus[key][:3]:
                lines.append(f"• {v.w('consensus_' + key)}{v.w('sep')}{quote(number)}")
    common = v.common_ground()
    if common:
        lines += ["", f"**{v.w('common_ground')}**"]
        lines += [f"• {quote(entry['number'])}" for entry in common[:3]]
    divisive = v.divisive()
    if divisive:
        lines += ["", f"**{v.w('divisive')}**"]
        lines += [f"• {quote(number)}" for number in divisive[:3]]
    groups = v.groups()
    undescribed = v.undescribed_line()
    if groups or undescribed:
        lines += ["", f"**{v.w('groups')}**"]
        for group in groups:
            label = v.group_label(group)
            if not group.get("published"):
                lines.append(f"• {v.w('group_hidden', label=label, min=v.min)}")
                continue
            reps = "; ".join(v.rep_line(r, v.num) for r in group["representative"][:3])
            head = f"{v.w('group', label=label)} ({v.w('group_size', size=group['size'])})"
            lines.append(f"• {head}" + (f"{v.w('sep')}{reps}" if reps else ""))
        if undescribed:
            lines.append(f"• {undescribed}")
    themes = v.themes()
    if themes:
        lines += ["", f"**{v.w('themes')}**"]
        for theme in themes:
            terms = ", ".join(_chat(t) for t in theme["terms"])
            cited = ", ".join(v.num(q["number"]) for q in theme["quotes"])
            lines.append(f"• {terms} ({cited})")
    if not summary.get("votes"):
        lines += ["", m("summary_arguments", count=len(v.args))]
        for arg in v.sorted_args()[:CHAT_MAX_ARGUMENTS]:
            lines.append(
                m(
                    "summary_argument_line",
                    number=arg["number"],
                    stance=_chat(v.stance_label(arg["stance"])),
                    text=_chat(_shorten(arg["text"])),
                )
            )
        if len(v.args) > CHAT_MAX_ARGUMENTS:
            lines.append(v.w("more", n=len(v.args) - CHAT_MAX_ARGUMENTS))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- markdown


def _md_cell(text: str) -> str:
    """Text for the Markdown document: on one line, visible, escaped.

    ``&`` starts a character reference in Markdown as in HTML, and ``&rlm;``, ``&#x200B;`` or
    ``&#8207`` would render as an invisible character: written ``&amp;``, it shows as typed.
    :func:`escape_markdown` breaks mass mentions with a zero-width word joiner; a document
    holds no zero-width character, so their ``@`` is written ``&#64;`` instead.
    """
    flat = " ".join(_visible(str(text)).split())
    return escape_markdown(flat.replace("&", "&amp;")).replace("@\u2060", "&#64;")


def render_markdown(summary: dict[str, Any]) -> str:
    """The full summary as a Markdown document (member text escaped)."""
    v = _View(summary)
    m = v.m
    rnd = summary["round"]
    out: list[str] = [f"# {_md_cell(rnd['debate_title'])}", ""]
    out += [f"## {_md_cell(m('summary_title', code=rnd['code'], question=rnd['question']))}", ""]
    if rnd.get("context"):
        out += [f"> {_md_cell(rnd['context'])}", ""]
    if rnd.get("source"):
        out += [_md_cell(rnd["source"]), ""]
    out += [v.w("period", opens=_when(rnd["opens_at"]), closes=_when(rnd["closes_at"])), ""]

    out += [f"### {v.w('participation')}", ""]
    out.append(m("summary_participation", participants=summary["participants"]))
    out.append("")
    if summary["tally"] is None:
        out += [m("summary_too_few", participants=summary["positions"], min=v.min), ""]
    else:
        out += [
            f"| {v.w('col_stance')} | {v.w('col_count')} | {v.w('col_share')} |",
            "|---|---:|---:|",
        ]
        for row in summary["tally"]:
            out.append(f"| {_md_cell(row['label'])} | {row['count']} | {v.pct(row['share'])} % |")
        out.append("")

    def cite(number: int) -> str:
        arg = v.by_number[number]
        return f"**{v.num(number)}** {_md_cell(arg['text'])}"

    top = v.top()
    if top:
        out += [f"### {v.w('top')}", "", f"*{v.w('top_hint')}*", ""]
        for heading, numbers in top:
            out += [f"**{_md_cell(heading)}**", ""]
            for number in numbers:
                arg = v.by_number[number]
                support = v.w("support_line", share=v.pct(v.support(arg)), votes=arg["votes"])
                out.append(f"- {cite(number)} — {support}")
            out.append("")
    consensus = v.consensus()
    if consensus["agree"] or consensus["disagree"]:
        out += [f"### {v.w('consensus')}", ""]
        for key in ("agree", "disagree"):
            for number in consensus[key]:
                out.append(f"- {v.w('consensus_' + key)}{v.w('sep')}{cite(number)}")
        out.append("")
    common = v.common_ground()
    if common:
        out += [f"### {v.w('common_ground')}", "", f"*{v.common_ground_hint()}*", ""]
        out += [f"- {cite(e['number'])} — {v.common_ground_line(e)}" for e in common]
        out.append("")
    divisive = v.divisive()
    if divisive:
        out += [f"### {v.w('divisive')}", ""]
        out += [f"- {cite(number)}" for number in divisive]
        out.append("")
    groups = v.groups()
    undescribed = v.undescribed_line()
    if groups or undescribed:
        out += [f"### {v.w('groups')}", ""]
        if groups:
            out += [v.groups_intro(), ""]
        for group in groups:
            label = v.group_label(group)
            if not group.get("published"):
                out += [f"- {v.w('group_hidden', label=label, min=v.min)}", ""]
                continue
            size = v.w("group_size", size=group["size"])
            out += [f"#### {v.w('group', label=label)} ({size})", ""]
            for rep in group["representative"]:
                line = v.rep_line(rep, lambda n: f"**{v.num(n)}**")
                out.append(f"- {line}{v.w('sep')}{_md_cell(v.by_number[rep['number']]['text'])}")
            out.append("")
        if undescribed:
            out += [undescribed, ""]
    themes = v.themes()
    if themes:
        out += [f"### {v.w('themes')}", ""]
        terms = v.terms()
        if terms:
            listed = ", ".join(f"{_md_cell(t['term'])} ({t['arguments']})" for t in terms)
            out += [f"{v.w('terms')}{v.w('sep')}{listed}", ""]
        for theme in themes:
            out.append(
                f"- **{', '.join(_md_cell(t) for t in theme['terms'])}** — "
                + v.w("theme_args", count=theme["arguments"])
            )
            for q in theme["quotes"]:
                ellipsis = " […]" if q.get("excerpt") else ""
                out.append(f"  > {v.num(q['number'])} « {_md_cell(q['text'])}{ellipsis} »")
        out.append("")

    out += [f"### {m('summary_arguments', count=len(v.args)).rstrip(' :')}", ""]
    if not v.args:
        out += [m("summary_no_arguments"), ""]
    for arg in v.sorted_args():
        stance = _md_cell(v.stance_label(arg["stance"]))
        out.append(f"- **{v.num(arg['number'])}** \\[{stance}\\] {_md_cell(arg['text'])}")
        if arg["votes_published"]:
            counts = m(
                "summary_votes",
                agree=arg["agree"],
                disagree=arg["disagree"],
                pass_=arg["pass"],
            ).strip()
            support = v.pct(v.support(arg))
            out.append(f"  {counts} — {v.w('col_support').lower()} {support} %")
        elif arg["votes"]:
            out.append(f"  {m('summary_votes_hidden', min=v.min).strip()}")
    out.append("")
    if summary.get("hidden_arguments"):
        out += [v.w("hidden_arguments", n=summary["hidden_arguments"]), ""]
    out += [
        f"### {v.w('reproducibility')}",
        "",
        v.repro_line(),
        "",
        v.w("vote_sign"),
        "",
        v.w("withheld", min=v.min),
        "",
    ]
    return "\n".join(out)


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


def _csv_cell(value: Any) -> str:
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
    text = _visible(str(value)).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CELL_START.sub(r"\1'\2", text)


def _csv_writer(out: io.StringIO) -> Callable[[list[Any]], None]:
    writer = csv.writer(out, lineterminator="\n")
    return lambda row: writer.writerow([_csv_cell(cell) for cell in row])


def render_csv(summary: dict[str, Any]) -> str:
    """One row per argument; no pseudonym or participant identifier of any kind.

    Columns: :data:`CSV_COLUMNS`, then ``agree_share_<group>`` for each published group.
    Withheld figures are empty cells, and so are the bridging intercept and factor of an
    argument that is not common ground (they are published for those arguments only). A
    factor can be negative: :func:`_csv_cell` writes it with a minus sign, never "-".
    """
    v = _View(summary)
    groups = [v.group_label(g) for g in v.published_groups()]
    consensus = v.consensus()
    divisive = set(v.divisive())
    common = {int(e["number"]): e for e in v.common_ground()}
    out = io.StringIO()
    write = _csv_writer(out)
    write([*CSV_COLUMNS, *(f"agree_share_{label}" for label in groups)])

    def blank(value: Any) -> Any:
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
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.92rem}
th,td{border:1px solid var(--line);padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:var(--band)}#tally{width:auto;min-width:24rem}td.nowrap{white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
td.text,.quote{white-space:pre-wrap;overflow-wrap:anywhere}td.text{min-width:18rem}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--muted);font-size:.85rem}
ul.args{padding-left:1.2rem}ul.args li{margin:.3rem 0}
.num{font-weight:600;color:var(--accent);white-space:nowrap}
.agree{color:var(--agree);font-weight:600}.disagree{color:var(--disagree);font-weight:600}
.theme{border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem;margin:.6rem 0}
.terms{font-weight:600}
footer{margin-top:2rem;border-top:1px solid var(--line);padding-top:.6rem}
hr.round{margin:3rem 0;border:0;border-top:3px double var(--line)}
@page{margin:1.5cm}
@media print{body{font-size:10.5pt;max-width:none;margin:0;padding:0}
h2{break-after:avoid}tr,.theme,figure,li{break-inside:avoid}thead{display:table-header-group}
th{background:#eee!important;-webkit-print-color-adjust:exact;print-color-adjust:exact}
hr.round{break-after:page;border:0}}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(value: Any) -> str:
    return html.escape(_visible(str(value)), quote=True)


def _html_body(summary: dict[str, Any], chart_png: bytes | None) -> str:
    v = _View(summary)
    m = v.m
    rnd = summary["round"]
    p: list[str] = [f'<article class="round" id="round-{_e(rnd["code"])}">']
    p.append(f"<header><h1>{_e(rnd['debate_title'])}</h1>")
    period = v.w("period", opens=_when(rnd["opens_at"]), closes=_when(rnd["closes_at"]))
    p.append(f'<p class="meta">{_e(v.w("round", code=rnd["code"]))} · {_e(period)}</p>')
    p.append(f'<h2 id="question">{_e(rnd["question"])}</h2>')
    if rnd.get("context"):
        p.append(f"<blockquote>{_e(rnd['context'])}</blockquote>")
    if rnd.get("source"):
        p.append(f'<p class="meta">{_e(rnd["source"])}</p>')
    p.append("</header>")

    p.append(f'<section id="participation"><h2>{_e(v.w("participation"))}</h2>')
    p.append(f"<p>{_e(m('summary_participation', participants=summary['participants']))}</p>")
    if summary["tally"] is None:
        too_few = m("summary_too_few", participants=summary["positions"], min=v.min)
        p.append(f'<p class="note">{_e(too_few)}</p>')
    else:
        p.append(
            f'<table id="tally"><thead><tr><th>{_e(v.w("col_stance"))}</th>'
            f"<th>{_e(v.w('col_count'))}</th><th>{_e(v.w('col_share'))}</th></tr></thead><tbody>"
        )
        for row in summary["tally"]:
            p.append(
                f"<tr><td>{_e(row['label'])}</td><td class=n>{row['count']}</td>"
                f"<td class=n>{_e(v.pct(row['share']))} %</td></tr>"
            )
        p.append("</tbody></table>")
    p.append("</section>")
    if chart_png:
        encoded = base64.b64encode(chart_png).decode("ascii")
        p.append(
            f'<figure id="charts"><img id="chart" alt="{_e(v.w("chart"))}" '
            f'src="data:image/png;base64,{encoded}"><figcaption>{_e(v.w("chart"))}'
            "</figcaption></figure>"
        )

    def cite(number: int) -> str:
        arg = v.by_number[number]
        return (
            f'<span class="num">{_e(v.num(number))}</span> '
            f'<span class="quote">{_e(arg["text"])}</span>'
        )

    top = v.top()
    if top:
        p.append(f'<section id="top-arguments"><h2>{_e(v.w("top"))}</h2>')
        p.append(f'<p class="note">{_e(v.w("top_hint"))}</p>')
        for heading, numbers in top:
            p.append(f'<h3>{_e(heading)}</h3><ul class="args">')
            for number in numbers:
                arg = v.by_number[number]
                support = v.w("support_line", share=v.pct(v.support(arg)), votes=arg["votes"])
                p.append(f'<li>{cite(number)} <span class="meta">({_e(support)})</span></li>')
            p.append("</ul>")
        p.append("</section>")
    consensus = v.consensus()
    if consensus["agree"] or consensus["disagree"]:
        p.append(f'<section id="consensus"><h2>{_e(v.w("consensus"))}</h2>')
        for key in ("agree", "disagree"):
            if consensus[key]:
                p.append(f'<h3 class="{key}">{_e(v.w("consensus_" + key))}</h3><ul class="args">')
                p += [f"<li>{cite(number)}</li>" for number in consensus[key]]
                p.append("</ul>")
        p.append("</section>")
    common = v.common_ground()
    if common:
        p.append(f'<section id="common-ground"><h2>{_e(v.w("common_ground"))}</h2>')
        p.append(f'<p class="note">{_e(v.common_ground_hint())}</p><ul class="args">')
        p += [
            f'<li>{cite(e["number"])} <span class="meta">({_e(v.common_ground_line(e))})</span>'
            "</li>"
            for e in common
        ]
        p.append("</ul></section>")
    divisive = v.divisive()
    if divisive:
        p.append(f'<section id="divisive"><h2>{_e(v.w("divisive"))}</h2><ul class="args">')
        p += [f"<li>{cite(number)}</li>" for number in divisive]
        p.append("</ul></section>")
    groups = v.groups()
    undescribed = v.undescribed_line()
    if groups or undescribed:
        p.append(f'<section id="groups"><h2>{_e(v.w("groups"))}</h2>')
    if groups:
        p.append(f"<p>{_e(v.groups_intro())}</p>")
        p.append(
            f"<table><thead><tr><th>{_e(v.w('col_group'))}</th><th>{_e(v.w('col_size'))}</th>"
            f"<th>{_e(v.w('sets_apart'))}</th></tr></thead><tbody>"
        )
        for group in groups:
            label = v.group_label(group)
            if not group.get("published"):
                hidden = v.w("group_hidden", label=label, min=v.min)
                p.append(
                    f"<tr><td>{_e(label)}</td><td class=n>—</td>"
                    f'<td class="note">{_e(hidden)}</td></tr>'
                )
                continue
            items = []
            for rep in group["representative"]:
                line = v.rep_line(rep, v.num)
                text = _e(v.by_number[rep["number"]]["text"])
                items.append(
                    f'<li><span class="{_e(rep["direction"])}">{_e(line)}</span> '
                    f'<span class="quote">{text}</span></li>'
                )
            reps = f'<ul class="args">{"".join(items)}</ul>' if items else ""
            p.append(
                f"<tr><td class=nowrap><strong>{_e(v.w('group', label=label))}</strong></td>"
                f"<td class=n>{group['size']}</td><td>{reps}</td></tr>"
            )
        p.append("</tbody></table>")
    if undescribed:
        p.append(f'<p class="note">{_e(undescribed)}</p>')
    if groups or undescribed:
        p.append("</section>")
    themes = v.themes()
    if themes:
        p.append(f'<section id="themes"><h2>{_e(v.w("themes"))}</h2>')
        terms = v.terms()
        if terms:
            listed = ", ".join(f"{t['term']} ({t['arguments']})" for t in terms)
            p.append(f"<p><strong>{_e(v.w('terms'))}</strong>{_e(v.w('sep'))}{_e(listed)}</p>")
        for theme in themes:
            p.append('<div class="theme">')
            count = v.w("theme_args", count=theme["arguments"])
            p.append(
                f'<p><span class="terms">{_e(", ".join(theme["terms"]))}</span> '
                f'<span class="meta">— {_e(count)}</span></p>'
            )
            for q in theme["quotes"]:
                ellipsis = " […]" if q.get("excerpt") else ""
                p.append(
                    f'<blockquote><span class="num">{_e(v.num(q["number"]))}</span> '
                    f'<span class="quote">« {_e(q["text"])}{ellipsis} »</span></blockquote>'
                )
            p.append("</div>")
        p.append("</section>")

    group_labels = [v.group_label(g) for g in v.published_groups()]
    p.append(
        f'<section id="all-arguments">'
        f"<h2>{_e(m('summary_arguments', count=len(v.args)).rstrip(' :'))}</h2>"
    )
    if not v.args:
        p.append(f"<p>{_e(m('summary_no_arguments'))}</p>")
    else:
        heads = [
            v.w("col_num"),
            v.w("col_text"),
            v.w("col_stance"),
            v.w("col_votes"),
            v.w("col_agree"),
            v.w("col_disagree"),
            v.w("col_pass"),
            v.w("col_support"),
            *(v.w("group", label=label) for label in group_labels),
        ]
        p.append(
            '<table id="arguments"><thead><tr>'
            + "".join(f"<th>{_e(h)}</th>" for h in heads)
            + "</tr></thead><tbody>"
        )
        for arg in v.sorted_args():
            shares = arg.get("groups") or {}
            counts = [
                "—" if arg[k] is None else str(arg[k]) for k in ("agree", "disagree", "pass")
            ]
            arg_support = v.support(arg)
            cells = [
                f"<td class=n>{_e(arg['number'])}</td>",
                f'<td class="text">{_e(arg["text"])}</td>',
                f"<td>{_e(v.stance_label(arg['stance']))}</td>",
                f"<td class=n>{_e(arg['votes'])}</td>",
                *(f"<td class=n>{_e(x)}</td>" for x in counts),
                f"<td class=n>{_e(v.pct_cell(arg_support))}</td>",
                *(
                    f"<td class=n>{_e(v.pct_cell(shares.get(label)))}</td>"
                    for label in group_labels
                ),
            ]
            p.append("<tr>" + "".join(cells) + "</tr>")
        p.append("</tbody></table>")
    if summary.get("hidden_arguments"):
        hidden_note = v.w("hidden_arguments", n=summary["hidden_arguments"])
        p.append(f'<p class="note">{_e(hidden_note)}</p>')
    p.append("</section>")
    p.append(
        f'<footer id="reproducibility"><h3>{_e(v.w("reproducibility"))}</h3>'
        f'<p class="note">{_e(v.repro_line())}</p>'
        f'<p class="note">{_e(v.w("vote_sign"))} {_e(v.w("withheld", min=v.min))}</p></footer>'
    )
    p.append("</article>")
    return "\n".join(p)


def _html_page(language: str, title: str, bodies: list[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{_e(language)}"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            '\n<hr class="round">\n'.join(bodies),
            "</body></html>",
        ]
    )


def _chart_png(summary: dict[str, Any]) -> bytes | None:
    from bot.summary.charts import render_chart

    return render_chart(summary)


def render_html(summary: dict[str, Any], chart_png: bytes | None = None) -> str:
    """One self-contained page: inline CSS and chart, no external resource, printable.

    ``chart_png`` defaults to :func:`bot.summary.charts.render_chart` of the summary.
    """
    v = _View(summary)
    rnd = summary["round"]
    png = chart_png if chart_png is not None else _chart_png(summary)
    title = v.m("summary_title", code=rnd["code"], question=rnd["question"])
    return _html_page(v.language, title, [_html_body(summary, png)])


def export_rounds(summaries: list[dict[str, Any]], fmt: str) -> bytes:
    """Several rounds in one file (``debate-bot export --debate``)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if len(summaries) == 1:
        return export_summary(summaries[0], fmt).data
    if fmt == "json":
        return (
            json.dumps({"rounds": summaries}, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        ).encode("utf-8")
    if fmt == "csv":
        # Group columns differ from round to round: the header is their union, in order.
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
    if fmt == "html":
        first = summaries[0]
        title = str(first["round"].get("debate_title", first["round"]["code"]))
        bodies = [_html_body(s, _chart_png(s)) for s in summaries]
        return _html_page(str(first.get("language", "fr")), title, bodies).encode("utf-8")
    return "\n\n---\n\n".join(render_markdown(s) for s in summaries).encode("utf-8")
