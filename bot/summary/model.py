"""The types of a round's summary: the data it is built from, and the summary as stored.

:class:`RoundData` is what ``Engine._collect`` gathers from the database when a round closes
(participants already replaced by opaque per-summary aliases); :func:`bot.summary.build_summary`
turns it into a :class:`Summary`, which is stored as JSON and *is* the JSON export. Each
:class:`~typing.TypedDict` below mirrors one object of the JSON Schema of
``docs/summary-schema.md``, key for key (``tests/summary/test_model.py`` holds them to it).

Summaries stored by older schema versions lack some keys: the renderers read those with
``.get`` and treat a missing section as empty, so one type serves them all.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

# ---- the round data (Engine._collect -> build_summary)


class SummaryRound(TypedDict):
    """The round a summary is of (copied as is into the summary)."""

    id: int
    code: str
    debate_id: str
    debate_title: str
    question_id: str
    question: str
    context: str
    source: str
    opens_at: str  # ISO 8601, UTC, with a trailing "Z"
    closes_at: str


# Where an argument carried over from an earlier round comes from (``follow_up``), as stored
# with it: that round's code, the number and the list ("common_ground" or "divisive") its
# summary gave it, and its vote counts there as published (aggregates, never a voter).
CarriedFrom = TypedDict(
    "CarriedFrom",
    {
        "round": str,
        "number": int,
        "listed_as": str,
        "votes": int,
        "agree": int | None,
        "disagree": int | None,
        "pass": int | None,
    },
)


class ArgumentRow(TypedDict):
    """One argument as stored: its database id and its author's alias never leave the
    summary builder. A carried-over argument has no author (``""``) and ``carried_over``."""

    id: int
    number: int
    text: str
    author: str
    hidden: bool
    carried_over: NotRequired[CarriedFrom]


# [argument database id, voter alias, value (+1 agree, -1 disagree, 0 pass)]
VoteRow = list[int | str]


class RoundData(TypedDict):
    """Everything a summary rests on."""

    round: SummaryRound
    language: str
    stances: list[str]
    stance_labels: NotRequired[dict[str, str]]
    min_group_size: int
    positions: dict[str, str]  # alias -> stance
    arguments: list[ArgumentRow]
    votes: list[VoteRow]
    seed: NotRequired[int]


# ---- the stored summary (build_summary -> storage, JSON export, every renderer)


class StanceLabel(TypedDict):
    stance: str
    label: str


class TallyRow(TypedDict):
    stance: str
    label: str
    count: int
    share: float


# "pass" is a keyword: the functional form is the only way to name the key.
PublishedArgument = TypedDict(
    "PublishedArgument",
    {
        "number": int,
        "text": str,
        "stance": str | None,
        "votes": int,
        "agree": int | None,
        "disagree": int | None,
        "pass": int | None,
        "votes_published": bool,
        "support": float | None,
        "groups": dict[str, float | None],
        "consensus_score": float | None,
    },
)


class TopArguments(TypedDict):
    stance: str | None  # None: authors without a stance (or every author, tally withheld)
    label: str | None
    arguments: list[int]


class ThemeTerm(TypedDict):
    term: str
    arguments: int


class ThemeQuote(TypedDict):
    number: int
    text: str
    excerpt: bool


class Theme(TypedDict):
    terms: list[str]
    arguments: int
    quotes: list[ThemeQuote]


class Themes(TypedDict):
    version: str
    terms: list[ThemeTerm]
    themes: list[Theme]


class Representative(TypedDict):
    number: int
    direction: str  # "agree" | "disagree"
    agree_share: float | None
    disagree_share: float | None
    voters: int  # the group's voters on the argument, and how many agreed and disagreed
    agree: int
    disagree: int


class Group(TypedDict):
    id: int
    label: str
    published: bool
    size: int
    centre: list[float]
    representative: list[Representative]


class Consensus(TypedDict):
    agree: list[int]
    disagree: list[int]


class CommonGround(TypedDict):
    number: int
    intercept: float
    factor: float
    votes: int


# [x, y, published group label]; first-schema summaries hold bare [x, y] points.
MapPoint = list[float | str]


class Analysis(TypedDict):
    analysis_version: str
    seed: int
    participants: int
    participants_clustered: int
    statements: int
    votes: int
    groups: list[Group]
    consensus: Consensus
    common_ground: list[CommonGround]
    divisive: list[int]
    map: list[MapPoint]


class CarriedOver(TypedDict):
    """How agreement moved on an argument carried over from an earlier round: its agree share
    among voters there (as that summary published it) and here (withheld below
    ``max(TOP_MIN_VOTERS, min_group_size)`` voters)."""

    number: int  # in this round
    round: str  # the earlier round's code
    round_number: int  # its number there
    listed_as: str  # "common_ground" | "divisive"
    votes_then: int
    support_then: float | None
    votes_now: int
    support_now: float | None


class Reproducibility(TypedDict):
    schema_version: int
    analysis_version: str | None
    bridging_version: str | None
    themes_version: str
    seed: int
    participants: int
    positions: int
    arguments: int
    hidden_arguments: int
    votes: int
    voters: int
    participants_clustered: int


class Summary(TypedDict):
    """The published summary of one round (``docs/summary-schema.md``)."""

    schema_version: int
    round: SummaryRound
    language: str
    min_group_size: int
    stances: list[StanceLabel]
    participants: int
    positions: int
    tally: list[TallyRow] | None
    arguments: list[PublishedArgument]
    hidden_arguments: int
    votes: int
    vote_sign: dict[str, int]
    top_arguments: list[TopArguments]
    carried_over: list[CarriedOver]
    themes: Themes
    analysis: Analysis | None
    reproducibility: Reproducibility
