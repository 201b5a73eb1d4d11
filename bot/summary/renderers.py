"""The chat text, the Markdown export and the HTML export of a summary's sections.

Each renderer lays out the :class:`~bot.summary.sections.Document` of a summary and escapes
member text for its format (see :mod:`bot.summary.export` for what each escaping guards
against); none reads the summary itself.
"""

from __future__ import annotations

import base64
import html
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bot.summary.sections import (
    ArgList,
    ArgTable,
    Block,
    Cite,
    Document,
    GroupEntry,
    Groups,
    Para,
    Section,
    Tally,
    ThemeList,
)
from bot.text import _INVISIBLE, escape_markdown

CHAT_TEXT_CHARS = 160  # member text is shortened to this in chat; exports carry it in full
CHAT_MAX_ARGUMENTS = 10  # arguments listed in chat when there were no votes
NARROW_SCREEN = "40rem"  # the HTML shows the narrow chart up to this width (a phone's)


def visible(text: str) -> str:
    """``text`` without the characters that render as nothing or reorder what is shown.

    Bidi controls and marks, zero-width characters, and every other Unicode format character
    (category Cf: soft hyphen, tag characters, invisible operators…). Input cleaning drops
    most of them already; an export does not rely on it, whatever a stored summary holds.
    """
    return "".join(c for c in text if c not in _INVISIBLE and unicodedata.category(c) != "Cf")


def shorten(text: str, limit: int = CHAT_TEXT_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > 0 else limit].rstrip(" ,;:") + "…"


@dataclass(frozen=True)
class _Layout:
    """How one format lays out each kind of block (as lines of its output)."""

    para: Callable[[Document, Para], list[str]]
    tally: Callable[[Document, Tally], list[str]]
    arg_list: Callable[[Document, ArgList], list[str]]
    groups: Callable[[Document, Groups], list[str]]
    themes: Callable[[Document, ThemeList], list[str]]
    arguments: Callable[[Document, ArgTable], list[str]]

    def block(self, doc: Document, block: Block) -> list[str]:
        if isinstance(block, Para):
            return self.para(doc, block)
        if isinstance(block, Tally):
            return self.tally(doc, block)
        if isinstance(block, ArgList):
            return self.arg_list(doc, block)
        if isinstance(block, Groups):
            return self.groups(doc, block)
        if isinstance(block, ThemeList):
            return self.themes(doc, block)
        return self.arguments(doc, block)


# ---------------------------------------------------------------------------------- chat text


def _chat(text: str) -> str:
    """Member (or configuration) text for the chat summary: visible, Markdown-escaped."""
    return escape_markdown(visible(str(text)))


def _chat_quote(cite: Cite) -> str:
    return f"{cite.label} — {_chat(shorten(cite.text))}"


def chat_text(doc: Document) -> str:
    """The summary as posted in chat: concise light Markdown, member text escaped."""
    lines = [f"**{doc.header.title}**", ""]
    # The participation comes right under the title; without arguments, nothing else does.
    first, *rest = doc.sections
    lines += _chat_section_body(doc, first)
    if not doc.has_arguments:
        return "\n".join([*lines, "", doc.view.m("summary_no_arguments")])
    for section in rest:
        if not section.chat:
            continue
        # The argument list opens with its count line ("Arguments (12):") instead of a title.
        titled = not isinstance(section.blocks[0], ArgTable)
        lines += ["", f"**{section.title}**"] if titled else [""]
        lines += _chat_section_body(doc, section)
    return "\n".join(lines)


def _chat_section_body(doc: Document, section: Section) -> list[str]:
    lines: list[str] = []
    for block in section.blocks:
        lines += _CHAT.block(doc, block)
    return lines


def _chat_para(doc: Document, block: Para) -> list[str]:
    return [block.text] if block.kind in ("text", "note") else []


def _chat_tally(doc: Document, block: Tally) -> list[str]:
    return [
        doc.view.m("summary_tally_line", stance=_chat(r.label), count=r.count, share=r.share)
        for r in block.rows
    ]


def _chat_themes(doc: Document, block: ThemeList) -> list[str]:
    """Each theme's terms and how many arguments use them: quoted, the theme's arguments would
    double the chat text, so the chat names none (the exports quote them)."""
    return [
        f"• {', '.join(_chat(t) for t in theme.terms)} ({theme.count})" for theme in block.themes
    ]


def _chat_list(doc: Document, block: ArgList) -> list[str]:
    sep = doc.view.w("sep")
    items = block.items[: block.chat_limit] if block.chat_limit else block.items
    if block.lead:
        return [f"• {block.heading}{sep}{_chat_quote(item.cite)}" for item in items]
    lines = [f"{_chat(block.heading)}{sep.rstrip()}"] if block.heading else []
    for item in items:
        note = f" ({item.note})" if item.note and block.chat_notes else ""
        lines.append(f"• {_chat_quote(item.cite)}{note}")
    return lines


def _chat_groups(doc: Document, block: Groups) -> list[str]:
    """Each group with its most representative arguments, quoted in full, under what its
    members mostly did with them."""
    sep = doc.view.w("sep")
    lines = []
    for group in block.groups:
        if group.hidden:
            lines.append(f"• {group.hidden}")
            continue
        lines.append(f"• {group.name} ({group.size_text})")
        for direction, lead in (("agree", group.agreed), ("disagree", group.disagreed)):
            reps = group.leaning(direction)
            if reps:
                lines.append(f"  {lead}{sep.rstrip()}")
            for r in reps:
                share = f" ({r.share})" if r.share else ""
                lines.append(f"  – {r.cite.label} — {_chat(r.cite.text)}{share}")
    if block.undescribed:
        lines.append(f"• {block.undescribed}")
    return lines


def _chat_arguments(doc: Document, block: ArgTable) -> list[str]:
    lines = [block.count_line]
    for row in block.rows[:CHAT_MAX_ARGUMENTS]:
        lines.append(
            doc.view.m(
                "summary_argument_line",
                number=row.cite.number,
                stance=_chat(row.stance),
                text=_chat(shorten(row.cite.text)),
            )
        )
    if len(block.rows) > CHAT_MAX_ARGUMENTS:
        lines.append(doc.view.w("more", n=len(block.rows) - CHAT_MAX_ARGUMENTS))
    return lines


# ---------------------------------------------------------------------------------- markdown


def md_cell(text: str) -> str:
    """Text for the Markdown document: on one line, visible, escaped.

    ``&`` starts a character reference in Markdown as in HTML, and ``&rlm;``, ``&#x200B;`` or
    ``&#8207`` would render as an invisible character: written ``&amp;``, it shows as typed.
    :func:`escape_markdown` breaks mass mentions with a zero-width word joiner; a document
    holds no zero-width character, so their ``@`` is written ``&#64;`` instead.
    """
    flat = " ".join(visible(str(text)).split())
    return escape_markdown(flat.replace("&", "&amp;")).replace("@\u2060", "&#64;")


def _md_cite(cite: Cite) -> str:
    return f"**{cite.label}** {md_cell(cite.text)}"


def markdown(doc: Document) -> str:
    """The full summary as a Markdown document (member text escaped)."""
    h = doc.header
    out: list[str] = [f"# {md_cell(h.debate_title)}", "", f"## {md_cell(h.title)}", ""]
    if h.context:
        out += [f"> {md_cell(h.context)}", ""]
    if h.source:
        out += [md_cell(h.source), ""]
    out += [h.period, ""]
    for section in doc.sections:
        out += [f"### {section.title}", ""]
        blocks = section.blocks
        for index, block in enumerate(blocks):
            out += _MARKDOWN.block(doc, block)
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            # Consecutive led lists are one Markdown list.
            if not (_led(block) and _led(following)):
                out.append("")
    return "\n".join(out)


def _led(block: Block | None) -> bool:
    return isinstance(block, ArgList) and block.lead


def _md_para(doc: Document, block: Para) -> list[str]:
    return [f"*{block.text}*" if block.kind == "hint" else block.text]


def _md_tally(doc: Document, block: Tally) -> list[str]:
    heads = " | ".join(block.columns)
    rows = [
        f"| {md_cell(r.label)} | {r.count} | {doc.view.w('percent', value=r.share)} |"
        for r in block.rows
    ]
    return [f"| {heads} |", "|---|---:|---:|", *rows]


def _md_list(doc: Document, block: ArgList) -> list[str]:
    sep = doc.view.w("sep")
    if block.lead:
        return [f"- {block.heading}{sep}{_md_cite(item.cite)}" for item in block.items]
    lines = [f"**{md_cell(block.heading)}**", ""] if block.heading else []
    for item in block.items:
        lines.append(f"- {_md_cite(item.cite)}" + (f" — {item.note}" if item.note else ""))
    return lines


def _md_groups(doc: Document, block: Groups) -> list[str]:
    sep = doc.view.w("sep")
    out: list[str] = []
    for group in block.groups:
        if group.hidden:
            out += [f"- {group.hidden}", ""]
            continue
        out += [f"#### {group.name} ({group.size_text})", ""]
        for direction, lead in (("agree", group.agreed), ("disagree", group.disagreed)):
            reps = group.leaning(direction)
            if not reps:
                continue
            out += [f"{lead}{sep.rstrip()}", ""]
            for r in reps:
                share = f" — {r.share}" if r.share else ""
                out.append(f"- {_md_cite(r.cite)}{share}")
            out.append("")
    if block.undescribed:
        out.append(block.undescribed)
    elif out:
        out.pop()  # the section adds the blank line after its last block
    return out


def _listed_terms(block: ThemeList, escape: Callable[[str], str]) -> str:
    """The recurring terms, each with its number of arguments."""
    return ", ".join(f"{escape(term)} ({count})" for term, count in block.terms)


def _md_themes(doc: Document, block: ThemeList) -> list[str]:
    v = doc.view
    listed = _listed_terms(block, md_cell)
    out = [f"{block.terms_label}{v.w('sep')}{listed}", ""] if block.terms else []
    for theme in block.themes:
        out.append(f"- **{', '.join(md_cell(t) for t in theme.terms)}** — {theme.count}")
        for cite, excerpt in theme.quotes:
            out.append(f"  > {cite.label} {v.quote(md_cell(cite.text), excerpt)}")
    return out


def _md_arguments(doc: Document, block: ArgTable) -> list[str]:
    out: list[str] = [block.empty, ""] if not block.rows else []
    for row in block.rows:
        stance = md_cell(row.stance)
        out.append(f"- **{row.cite.label}** \\[{stance}\\] {md_cell(row.cite.text)}")
        if row.figures:
            out.append(f"  {row.figures}")
    return out


# ---------------------------------------------------------------------------------- html


def escape_html(value: object) -> str:
    """Text for the HTML document: visible, HTML-escaped (quotes too)."""
    return html.escape(visible(str(value)), quote=True)


_e = escape_html


def _html_cite(cite: Cite) -> str:
    return f'<span class="num">{_e(cite.label)}</span> <span class="quote">{_e(cite.text)}</span>'


def html_body(doc: Document, chart_png: bytes | None, narrow_png: bytes | None = None) -> str:
    """One round's ``<article>``: the header, the chart after the participation, and every
    section (the reproducibility one as the footer). ``narrow_png``, the chart drawn for a
    phone's width, replaces it on narrow screens."""
    h = doc.header
    p: list[str] = [f'<article class="round" id="round-{_e(h.code)}">']
    p.append(f"<header><h1>{_e(h.debate_title)}</h1>")
    p.append(f'<p class="meta">{_e(h.round_line)} · {_e(h.period)}</p>')
    p.append(f'<h2 id="question">{_e(h.question)}</h2>')
    if h.context:
        p.append(f"<blockquote>{_e(h.context)}</blockquote>")
    if h.source:
        p.append(f'<p class="meta">{_e(h.source)}</p>')
    p.append("</header>")
    for section in doc.sections:
        if section.id == "reproducibility":
            notes = [b.text for b in section.blocks if isinstance(b, Para)]
            p.append(
                f'<footer id="reproducibility"><h3>{_e(section.title)}</h3>'
                f'<p class="note">{_e(notes[0])}</p>'
                f'<p class="note">{" ".join(_e(n) for n in notes[1:])}</p></footer>'
            )
            continue
        p.append(f'<section id="{section.id}"><h2>{_e(section.title)}</h2>')
        for block in section.blocks:
            p += _HTML.block(doc, block)
        p.append("</section>")
        if section.id == "participation" and chart_png:
            p.append(_html_figure(doc, chart_png, narrow_png))
    p.append("</article>")
    return "\n".join(p)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _html_figure(doc: Document, chart_png: bytes, narrow_png: bytes | None) -> str:
    narrow = (
        f'<source media="(max-width: {NARROW_SCREEN})" srcset="{_data_uri(narrow_png)}">'
        if narrow_png
        else ""
    )
    return (
        f'<figure id="charts"><picture>{narrow}<img id="chart" alt="{_e(doc.chart_alt)}" '
        f'src="{_data_uri(chart_png)}"></picture><figcaption>{_e(doc.chart_caption)}'
        "</figcaption></figure>"
    )


def _scroll(table: list[str]) -> list[str]:
    """A table in its own box, which scrolls sideways when the table is wider than the page
    (on a phone) instead of the page."""
    return ['<div class="scroll">', *table, "</div>"]


def _html_para(doc: Document, block: Para) -> list[str]:
    css = ' class="note"' if block.kind in ("note", "hint", "aside") else ""
    return [f"<p{css}>{_e(block.text)}</p>"]


def _html_tally(doc: Document, block: Tally) -> list[str]:
    heads = "".join(f"<th>{_e(c)}</th>" for c in block.columns)
    rows = [
        f"<tr><td>{_e(r.label)}</td><td class=n>{r.count}</td>"
        f"<td class=n>{_e(doc.view.w('percent', value=r.share))}</td></tr>"
        for r in block.rows
    ]
    return _scroll(
        [f'<table id="tally"><thead><tr>{heads}</tr></thead><tbody>', *rows, "</tbody></table>"]
    )


def _html_list(doc: Document, block: ArgList) -> list[str]:
    css = f' class="{block.css}"' if block.css else ""
    heading = f"<h3{css}>{_e(block.heading)}</h3>" if block.heading else ""
    out = [f'{heading}<ul class="args">']
    for item in block.items:
        note = f' <span class="meta">({_e(item.note)})</span>' if item.note else ""
        out.append(f"<li>{_html_cite(item.cite)}{note}</li>")
    out.append("</ul>")
    return out


def _html_group_row(doc: Document, group: GroupEntry) -> str:
    if group.hidden:
        return (
            f"<tr><td>{_e(group.label)}</td><td class=n>{_e(doc.view.w('no_figure'))}</td>"
            f'<td class="note">{_e(group.hidden)}</td></tr>'
        )
    parts = []
    for direction, lead in (("agree", group.agreed), ("disagree", group.disagreed)):
        reps = group.leaning(direction)
        if not reps:
            continue
        items = [
            f"<li>{_html_cite(r.cite)}"
            + (f' <span class="meta">({_e(r.share)})</span>' if r.share else "")
            + "</li>"
            for r in reps
        ]
        parts.append(
            f'<p class="{_e(direction)}">{_e(lead)}{_e(doc.view.w("sep").rstrip())}</p>'
            f'<ul class="args">{"".join(items)}</ul>'
        )
    return (
        f"<tr><td class=nowrap><strong>{_e(group.name)}</strong></td>"
        f"<td class=n>{group.size}</td><td>{''.join(parts)}</td></tr>"
    )


def _html_groups(doc: Document, block: Groups) -> list[str]:
    out: list[str] = []
    if block.groups:
        heads = "".join(f"<th>{_e(c)}</th>" for c in block.columns)
        rows = [_html_group_row(doc, group) for group in block.groups]
        out += _scroll(
            [f"<table><thead><tr>{heads}</tr></thead><tbody>", *rows, "</tbody></table>"]
        )
    if block.undescribed:
        out.append(f'<p class="note">{_e(block.undescribed)}</p>')
    return out


def _html_themes(doc: Document, block: ThemeList) -> list[str]:
    v = doc.view
    listed = _listed_terms(block, _e)
    terms = f"<p><strong>{_e(block.terms_label)}</strong>{_e(v.w('sep'))}{listed}</p>"
    out = [terms] if block.terms else []
    for theme in block.themes:
        out.append('<div class="theme">')
        out.append(
            f'<p><span class="terms">{_e(", ".join(theme.terms))}</span> '
            f'<span class="meta">— {_e(theme.count)}</span></p>'
        )
        for cite, excerpt in theme.quotes:
            out.append(
                f'<blockquote><span class="num">{_e(cite.label)}</span> '
                f'<span class="quote">{v.quote(_e(cite.text), excerpt)}</span></blockquote>'
            )
        out.append("</div>")
    return out


def _html_arguments(doc: Document, block: ArgTable) -> list[str]:
    if not block.rows:
        return [f"<p>{_e(block.empty)}</p>"]
    heads = "".join(f"<th>{_e(h)}</th>" for h in block.columns)
    out = [f'<table id="arguments"><thead><tr>{heads}</tr></thead><tbody>']
    for row in block.rows:
        cells = [
            f"<td class=n>{_e(row.cite.number)}</td>",
            f'<td class="text">{_e(row.cite.text)}</td>',
            f"<td>{_e(row.stance)}</td>",
            f"<td class=n>{_e(row.votes)}</td>",
            *(f"<td class=n>{_e(x)}</td>" for x in (*row.counts, row.support, *row.shares)),
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return _scroll(out)


_CHAT = _Layout(_chat_para, _chat_tally, _chat_list, _chat_groups, _chat_themes, _chat_arguments)
_MARKDOWN = _Layout(_md_para, _md_tally, _md_list, _md_groups, _md_themes, _md_arguments)
_HTML = _Layout(_html_para, _html_tally, _html_list, _html_groups, _html_themes, _html_arguments)
