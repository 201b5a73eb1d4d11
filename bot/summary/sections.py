"""One summary, as an ordered list of sections that every text renderer draws.

:func:`summary_document` reads a stored summary once (through
:class:`~bot.summary.view.SummaryView`) and turns it into a :class:`Document`: a header and
sections (title, then paragraphs, lists of quoted arguments and tables), in neutral form. The
chat text, the Markdown export and the HTML export (:mod:`bot.summary.renderers`) only lay
these out and escape them for their format; none of them reads the summary itself.

Catalogue text (titles, notes, figures) is held as is; member and configuration text (argument
texts, stance and group labels, theme terms) is held apart, in :class:`Cite` and the fields so
documented, so that each renderer escapes it for its format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.summary.model import Group, PublishedArgument, Summary
from bot.summary.view import SummaryView

# "text": shown everywhere; "note": set apart in HTML; "hint": an explanation the chat leaves
# out (italic in Markdown, set apart in HTML); "intro": a lead-in the chat leaves out; "aside":
# a note the chat leaves out.
ParaKind = Literal["text", "note", "hint", "intro", "aside"]
CHAT_LIMIT = 3  # quoted arguments per list, in chat
# A group is described by its most representative arguments (Polis's order), quoted: this many
# in every format (the JSON export holds them all).
GROUP_QUOTES = 3


@dataclass(frozen=True)
class Para:
    text: str
    kind: ParaKind = "text"


@dataclass(frozen=True)
class Cite:
    """An argument quoted with its number (``label``); ``text`` is member text."""

    number: int
    label: str
    text: str


@dataclass(frozen=True)
class Item:
    cite: Cite
    note: str = ""  # figures after the quote


@dataclass(frozen=True)
class ArgList:
    """Quoted arguments, under a heading (a stance label: member text, or a direction).

    ``lead``: text formats put the heading before each item, and consecutive led lists make
    one list. ``chat_limit`` and ``chat_notes``: what the chat shows of it.
    """

    items: list[Item]
    heading: str = ""
    lead: bool = False
    css: str = ""
    chat_limit: int | None = None
    chat_notes: bool = True


@dataclass(frozen=True)
class TallyRow:
    label: str  # configuration text
    count: int
    share: str  # formatted, without the sign


@dataclass(frozen=True)
class Tally:
    columns: tuple[str, str, str]
    rows: list[TallyRow]


@dataclass(frozen=True)
class Rep:
    """What sets a group apart: an argument its members mostly agreed (``direction``
    "agree") or disagreed with, quoted, and of whom that is said (``share``)."""

    direction: str
    cite: Cite
    share: str


@dataclass(frozen=True)
class GroupEntry:
    name: str  # "Group A"
    size: int
    size_text: str
    label: str  # the bare label, for a withheld group's row
    hidden: str = ""  # why a withheld group (schema 2) is not described
    reps: list[Rep] = field(default_factory=list)
    agreed: str = ""  # "People in this group mostly agreed with", and disagreed
    disagreed: str = ""

    def leaning(self, direction: str) -> list[Rep]:
        return [r for r in self.reps if r.direction == direction]


@dataclass(frozen=True)
class Groups:
    columns: tuple[str, str, str]
    groups: list[GroupEntry]
    undescribed: str | None


@dataclass(frozen=True)
class ThemeEntry:
    terms: list[str]  # member text
    count: str
    quotes: list[tuple[Cite, bool]]  # the quote (a verbatim excerpt) and whether it was cut


@dataclass(frozen=True)
class ThemeList:
    terms_label: str
    terms: list[tuple[str, int]]  # member text, number of arguments
    themes: list[ThemeEntry]


@dataclass(frozen=True)
class ArgRow:
    cite: Cite
    stance: str  # configuration text
    votes: int
    counts: list[str]  # agree, disagree, pass, or the dash
    support: str  # with its sign, or the dash
    shares: list[str]
    figures: str  # the counts and support on one line, or why they are withheld, or nothing


@dataclass(frozen=True)
class ArgTable:
    columns: list[str]
    rows: list[ArgRow]
    empty: str
    count_line: str  # "Arguments (12):", as the chat shows it


Block = Para | ArgList | Tally | Groups | ThemeList | ArgTable


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: list[Block]
    chat: bool = True  # whether the chat text shows it


@dataclass(frozen=True)
class Header:
    debate_title: str
    title: str
    question: str
    code: str
    round_line: str
    period: str
    context: str
    source: str


@dataclass(frozen=True)
class Document:
    """``chart_caption`` names what the chart draws, ``chart_alt`` describes it in words (the
    HTML ``<img alt>``, and an attachment's description for the adapters)."""

    view: SummaryView
    header: Header
    sections: list[Section]
    chart_caption: str = ""
    chart_alt: str = ""

    @property
    def has_arguments(self) -> bool:
        return bool(self.view.args)


def summary_document(summary: Summary) -> Document:
    """The sections of a summary, in the order every format shows them."""
    v = SummaryView(summary)
    rnd = summary["round"]
    header = Header(
        debate_title=str(rnd["debate_title"]),
        title=v.m("summary_title", code=rnd["code"], question=rnd["question"]),
        question=str(rnd["question"]),
        code=str(rnd["code"]),
        round_line=v.w("round", code=rnd["code"]),
        period=v.w("period", opens=v.when(rnd["opens_at"]), closes=v.when(rnd["closes_at"])),
        context=str(rnd.get("context") or ""),
        source=str(rnd.get("source") or ""),
    )
    built = [
        _participation(v),
        _top(v),
        _consensus(v),
        _common_ground(v),
        _divisive(v),
        _carried(v),
        _groups(v),
        _themes(v),
    ]
    quoted = any(_quotes(s) for s in built if s is not None and s.chat)
    built += [_arguments(v, quoted), _reproducibility(v)]
    caption, alt = chart_text(v)
    return Document(v, header, [s for s in built if s is not None], caption, alt)


def chart_text(v: SummaryView) -> tuple[str, str]:
    """The chart's caption and alt text, naming only what it draws (both empty when it draws
    nothing): the tally, when published, and the published groups' map points."""
    tally = v.s.get("tally")
    points = v.map_points()
    if tally is None and not points:
        return "", ""
    rnd = v.s["round"]
    question = v.w("alt_question", question=rnd["question"])
    head = v.w("alt_head", code=rnd["code"], date=v.when(rnd["closes_at"]), question=question)
    parts = []
    if tally is not None:
        sep = v.w("sep")
        rows = [f"{r['label']}{sep}{r['count']} ({v.pct_cell(r['share'])})" for r in tally]
        parts.append(v.w("alt_tally", rows=", ".join(rows)))
    if points:
        groups = v.published_groups()
        named = [v.w("alt_group", label=v.group_label(g), size=g["size"]) for g in groups]
        parts.append(
            v.w("alt_map", people=len(points), count=len(groups), groups=", ".join(named))
        )
    if tally is not None and points:
        caption = v.w("chart")
    else:
        caption = v.w("chart_tally_caption" if tally is not None else "chart_map_caption")
    return caption, f"{head}{v.w('sep')}{'; '.join(parts)}."


def _cite(v: SummaryView, number: int) -> Cite:
    """An argument quoted with its number, marked when it is carried over."""
    origin = v.carried_from(number)
    label = v.num(number)
    if origin is not None:
        label = v.w("carried_mark", num=label, code=origin)
    return Cite(number, label, str(v.by_number[number]["text"]))


def _participation(v: SummaryView) -> Section:
    blocks: list[Block] = [Para(v.participation_line())]
    tally = v.s["tally"]
    if tally is None:
        blocks.append(
            Para(v.m("summary_too_few", participants=v.s["positions"], min=v.min), "note")
        )
    else:
        columns = (v.w("col_stance"), v.w("col_count"), v.w("col_share"))
        rows = [TallyRow(str(r["label"]), int(r["count"]), v.pct(r["share"])) for r in tally]
        # the share is shown with its sign by the tables, bare in the chat's tally lines
        blocks.append(Tally(columns, rows))
    return Section("participation", v.w("participation"), blocks)


def _top(v: SummaryView) -> Section | None:
    top = v.top()
    if not top:
        return None
    lists: list[Block] = [
        ArgList(
            [Item(_cite(v, n), v.support_line(v.by_number[n])) for n in numbers], heading=heading
        )
        for heading, numbers in top
    ]
    hint = Para(v.w("top_hint", min=v.top_min()), "hint")
    return Section("top-arguments", v.w("top"), [hint, *lists])


def _compared(v: SummaryView) -> bool:
    """Whether the groups can be compared: it takes two published groups."""
    return len(v.published_groups()) >= 2


def _consensus(v: SummaryView) -> Section | None:
    if not _compared(v):
        return None  # the groups section says why
    consensus = v.consensus()
    lists: list[Block] = [
        ArgList(
            [Item(_cite(v, n)) for n in consensus[key]],
            heading=v.w("consensus_" + key),
            lead=True,
            css=key,
            chat_limit=CHAT_LIMIT,
        )
        for key in ("agree", "disagree")
        if consensus[key]
    ]
    return Section("consensus", v.w("consensus"), lists) if lists else None


def _common_ground(v: SummaryView) -> Section | None:
    common = v.common_ground()
    if not common:
        return None
    items = [Item(_cite(v, e["number"]), v.common_ground_line(e)) for e in common]
    listed = ArgList(items, chat_limit=CHAT_LIMIT, chat_notes=False)
    return Section(
        "common-ground", v.w("common_ground"), [Para(v.common_ground_hint(), "hint"), listed]
    )


def _divisive(v: SummaryView) -> Section | None:
    divisive = v.divisive()
    if not divisive or not _compared(v):
        return None
    listed = ArgList([Item(_cite(v, n)) for n in divisive], chat_limit=CHAT_LIMIT)
    return Section("divisive", v.w("divisive"), [listed])


def _carried(v: SummaryView) -> Section | None:
    """How agreement moved on the arguments carried over from the previous round."""
    carried = v.carried()
    if not carried:
        return None
    items = [Item(_cite(v, e["number"]), v.carried_line(e)) for e in carried]
    hint = Para(v.w("carried_hint", min=v.top_min()), "hint")
    return Section("carried-over", v.w("carried"), [hint, ArgList(items)])


def _group_entry(v: SummaryView, group: Group) -> GroupEntry:
    label = v.group_label(group)
    name = v.w("group", label=label)
    if not group.get("published"):
        hidden = v.w("group_hidden", label=label, min=v.min)
        return GroupEntry(name, int(group["size"]), "", label, hidden=hidden)
    reps = [
        Rep(str(rep["direction"]), _cite(v, int(rep["number"])), v.rep_share(rep, label))
        for rep in group["representative"][:GROUP_QUOTES]
    ]
    size = int(group["size"])
    return GroupEntry(
        name,
        size,
        v.w("group_size", size=size),
        label,
        reps=reps,
        agreed=v.w("group_agreed"),
        disagreed=v.w("group_disagreed"),
    )


def _groups(v: SummaryView) -> Section | None:
    """The opinion groups, each described by its representative arguments, quoted; with
    fewer than two published groups, one sentence saying why there is no comparison."""
    groups = v.groups()
    undescribed = v.undescribed_line()
    if v.analysis is None:
        return None
    # Summaries of schema 2 list their withheld groups: those are described as stored.
    if not _compared(v) and all(g.get("published") for g in groups):
        blocks: list[Block] = [Para(v.w("groups_too_few", min=max(v.min, 1)))]
        if undescribed and not groups:
            blocks.append(Para(undescribed))
        return Section("groups", v.w("groups"), blocks)
    blocks = [Para(v.groups_intro())] if groups else []
    columns = (v.w("col_group"), v.w("col_size"), v.w("sets_apart"))
    blocks.append(Groups(columns, [_group_entry(v, g) for g in groups], undescribed))
    return Section("groups", v.w("groups"), blocks)


def _themes(v: SummaryView) -> Section | None:
    themes = v.themes()
    if not themes:
        return None
    entries = [
        ThemeEntry(
            list(theme["terms"]),
            v.w("theme_args", count=theme["arguments"]),
            [
                (
                    Cite(int(q["number"]), v.num(q["number"]), str(q["text"])),
                    bool(q.get("excerpt")),
                )
                for q in theme["quotes"]
            ],
        )
        for theme in themes
    ]
    terms = [(str(t["term"]), int(t["arguments"])) for t in v.terms()]
    return Section("themes", v.w("themes"), [ThemeList(v.w("terms"), terms, entries)])


def _arg_row(v: SummaryView, arg: PublishedArgument, group_labels: list[str]) -> ArgRow:
    shares = arg.get("groups") or {}
    support = v.support(arg)
    if arg["votes_published"]:
        counts = v.m(
            "summary_votes", agree=arg["agree"], disagree=arg["disagree"], pass_=arg["pass"]
        ).strip()
        shown = v.w("percent", value=v.pct(support))
        figures = f"{counts} — {v.w('col_support').lower()} {shown}"
    elif arg["votes"]:
        figures = v.m("summary_votes_hidden", min=v.min).strip()
    else:
        figures = ""
    return ArgRow(
        cite=_cite(v, int(arg["number"])),
        stance=v.stance_label(arg["stance"]),
        votes=int(arg["votes"]),
        counts=[
            v.w("no_figure") if x is None else str(x)
            for x in (arg["agree"], arg["disagree"], arg["pass"])
        ],
        support=v.pct_cell(support),
        shares=[v.pct_cell(shares.get(label)) for label in group_labels],
        figures=figures,
    )


def _quotes(section: Section) -> bool:
    """Whether the section quotes an argument."""
    return any(
        (isinstance(b, ArgList) and b.items) or (isinstance(b, Groups) and b.groups)
        for b in section.blocks
    )


def _arguments(v: SummaryView, quoted: bool) -> Section:
    group_labels = [v.group_label(g) for g in v.published_groups()]
    columns = [
        *(v.w(key) for key in ("col_num", "col_text", "col_stance", "col_votes")),
        *(v.w(key) for key in ("col_agree", "col_disagree", "col_pass", "col_support")),
        *(v.w("group", label=label) for label in group_labels),
    ]
    count_line = v.m("summary_arguments", count=len(v.args))
    table = ArgTable(
        columns,
        [_arg_row(v, arg, group_labels) for arg in v.sorted_args()],
        v.m("summary_no_arguments"),
        count_line,
    )
    blocks: list[Block] = [table]
    if v.s.get("hidden_arguments"):
        blocks.append(Para(v.w("hidden_arguments", n=v.s["hidden_arguments"]), "aside"))
    # The chat lists the arguments only when nobody voted, or when no other section of the
    # chat quotes any (the rest says it otherwise).
    chat = not v.s.get("votes") or not quoted
    return Section("all-arguments", count_line.rstrip(" :"), blocks, chat=chat)


def _reproducibility(v: SummaryView) -> Section:
    blocks: list[Block] = [
        Para(v.repro_line(), "note"),
        Para(v.w("vote_sign"), "note"),
        Para(v.w("withheld", min=v.min), "note"),
    ]
    return Section("reproducibility", v.w("reproducibility"), blocks, chat=False)
