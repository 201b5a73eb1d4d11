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
CHAT_LIMIT = 3  # quoted arguments per list, and representative arguments per group, in chat


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
    """What sets a group apart: ``before`` + the argument's number + ``after``."""

    direction: str
    before: str
    after: str
    cite: Cite


@dataclass(frozen=True)
class GroupEntry:
    name: str  # "Group A"
    size: int
    size_text: str
    label: str  # the bare label, for a withheld group's row
    hidden: str = ""  # why a withheld group (schema 2) is not described
    reps: list[Rep] = field(default_factory=list)


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
    view: SummaryView
    header: Header
    sections: list[Section]

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
        _groups(v),
        _themes(v),
        _arguments(v),
        _reproducibility(v),
    ]
    return Document(v, header, [s for s in built if s is not None])


def _cite(v: SummaryView, number: int) -> Cite:
    return Cite(number, v.num(number), str(v.by_number[number]["text"]))


def _participation(v: SummaryView) -> Section:
    blocks: list[Block] = [Para(v.m("summary_participation", participants=v.s["participants"]))]
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
    return Section("top-arguments", v.w("top"), [Para(v.w("top_hint"), "hint"), *lists])


def _consensus(v: SummaryView) -> Section | None:
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
    if not divisive:
        return None
    listed = ArgList([Item(_cite(v, n)) for n in divisive], chat_limit=CHAT_LIMIT)
    return Section("divisive", v.w("divisive"), [listed])


def _group_entry(v: SummaryView, group: Group) -> GroupEntry:
    label = v.group_label(group)
    name = v.w("group", label=label)
    if not group.get("published"):
        hidden = v.w("group_hidden", label=label, min=v.min)
        return GroupEntry(name, int(group["size"]), "", label, hidden=hidden)
    reps = []
    for rep in group["representative"]:
        before, after = v.rep_line(rep)
        reps.append(Rep(str(rep["direction"]), before, after, _cite(v, int(rep["number"]))))
    size = int(group["size"])
    return GroupEntry(name, size, v.w("group_size", size=size), label, reps=reps)


def _groups(v: SummaryView) -> Section | None:
    groups = v.groups()
    undescribed = v.undescribed_line()
    if not groups and not undescribed:
        return None
    blocks: list[Block] = [Para(v.groups_intro(), "intro")] if groups else []
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


def _arguments(v: SummaryView) -> Section:
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
    # The chat lists the arguments only when nobody voted (the rest says it otherwise).
    return Section("all-arguments", count_line.rstrip(" :"), blocks, chat=not v.s.get("votes"))


def _reproducibility(v: SummaryView) -> Section:
    blocks: list[Block] = [
        Para(v.repro_line(), "note"),
        Para(v.w("vote_sign"), "note"),
        Para(v.w("withheld", min=v.min), "note"),
    ]
    return Section("reproducibility", v.w("reproducibility"), blocks, chat=False)
