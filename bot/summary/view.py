"""Reading a stored summary for display: its wording, numbers and dates in its language.

:class:`SummaryView` is the one place that reads a stored summary for the renderers
(:mod:`bot.summary.sections`, the CSV export and the chart), tolerant of older schema versions:
a section a summary lacks reads as empty. Every word, the decimal separator, the percent
format and the date format come from :data:`bot.i18n.SUMMARY_LABELS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.i18n import SUMMARY_LABELS, Messages
from bot.summary.model import (
    CarriedOver,
    CommonGround,
    Group,
    MapPoint,
    PublishedArgument,
    Representative,
    Summary,
    Theme,
    ThemeTerm,
)


def words_of(language: str) -> dict[str, str]:
    """The summary wording of ``language`` (English for a language without a catalogue)."""
    return SUMMARY_LABELS.get(language, SUMMARY_LABELS["en"])


def decimal(value: float, digits: int, words: Mapping[str, str]) -> str:
    """``value`` with ``digits`` decimals, the language's separator and a real minus sign."""
    text = f"{value:.{digits}f}".replace("-", "\u2212")
    return text.replace(".", words["decimal_sep"])


def percent(value: float, words: Mapping[str, str]) -> str:
    """A share in %, one decimal at most (``12,5``, ``40``), without the sign."""
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", words["decimal_sep"])


class SummaryView:
    """Read helpers over one stored summary, tolerant of older schema versions."""

    def __init__(self, summary: Summary) -> None:
        self.s = summary
        self.language = str(summary.get("language", "fr"))
        self.m = Messages(self.language)
        self.words = words_of(self.language)
        self.args: list[PublishedArgument] = list(summary.get("arguments") or [])
        self.by_number = {int(a["number"]): a for a in self.args}
        self.analysis = summary.get("analysis")
        self.min = int(summary.get("min_group_size", 0))

    def w(self, key: str, **fields: Any) -> str:
        return self.words[key].format(**fields)

    def pct(self, value: float | None) -> str:
        return self.w("no_figure") if value is None else percent(value, self.words)

    def pct_cell(self, value: float | None) -> str:
        """A percentage with its sign, or a dash when withheld."""
        return self.w("no_figure") if value is None else self.w("percent", value=self.pct(value))

    def dec(self, value: float) -> str:
        """A bridging figure, two decimals, with a real minus sign (and a decimal comma
        in French)."""
        return decimal(value, 2, self.words)

    def when(self, iso: object) -> str:
        """``2026-11-09T08:00:00Z`` as ``2026-11-09 08:00`` (summaries store UTC)."""
        try:
            return datetime.fromisoformat(str(iso)).strftime(self.w("date_format"))
        except ValueError:
            return str(iso)

    def num(self, number: int) -> str:
        return self.w("num", n=number)

    def quote(self, text: str, excerpt: bool) -> str:
        """A quoted theme excerpt (``text`` already escaped for the output format)."""
        return self.w("quote", text=text, cut=self.w("quote_cut") if excerpt else "")

    def stance_label(self, stance: str | None) -> str:
        if stance is None:
            return self.w("no_figure")
        for row in list(self.s.get("stances") or []) + list(self.s.get("tally") or []):
            if row["stance"] == stance:
                return str(row["label"])
        return self.m.stance_label(stance)

    def sorted_args(self) -> list[PublishedArgument]:
        """Arguments by number: numbers are random, so this order reveals nothing."""
        return sorted(self.args, key=lambda a: int(a["number"]))

    def groups(self) -> list[Group]:
        return list(self.analysis.get("groups") or []) if self.analysis else []

    def published_groups(self) -> list[Group]:
        return [g for g in self.groups() if g.get("published")]

    def clustered(self) -> int:
        return int(self.analysis.get("participants_clustered") or 0) if self.analysis else 0

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
        rest = self.clustered() - sum(int(g["size"]) for g in groups)
        return rest if rest >= max(self.min, 1) else 0

    def groups_intro(self) -> str:
        clustered = self.clustered() - self.undescribed()
        return self.w("groups_intro", clustered=clustered, count=len(self.groups()))

    def undescribed_line(self) -> str | None:
        rest = self.undescribed()
        if not rest:
            return None
        key = "groups_others" if self.groups() else "groups_none"
        return self.w(key, count=rest, min=self.min)

    def group_label(self, group: Group) -> str:
        return str(group.get("label") or int(group["id"]) + 1)

    def consensus(self) -> dict[str, list[int]]:
        found = self.analysis.get("consensus") if self.analysis else None
        agree = found.get("agree", []) if found else []
        disagree = found.get("disagree", []) if found else []
        return {
            "agree": [n for n in agree if n in self.by_number],
            "disagree": [n for n in disagree if n in self.by_number],
        }

    def divisive(self) -> list[int]:
        found = self.analysis.get("divisive") if self.analysis else None
        return [n for n in found or [] if n in self.by_number]

    def common_ground(self) -> list[CommonGround]:
        """The common-ground entries (schema 4), best first."""
        found = self.analysis.get("common_ground") if self.analysis else None
        return [e for e in found or [] if e["number"] in self.by_number]

    def carried(self) -> list[CarriedOver]:
        """The arguments carried over from an earlier round (schema 6), by number."""
        found = self.s.get("carried_over") or []
        return [e for e in found if e["number"] in self.by_number]

    def carried_from(self, number: int) -> str | None:
        """The earlier round's code, for an argument carried over from it."""
        for entry in self.carried():
            if entry["number"] == number:
                return str(entry["round"])
        return None

    def carried_line(self, entry: CarriedOver) -> str:
        """ "listed as common ground; 62% of 21 voters agreed then; 71% of 17 voters agree
        now", a rate withheld saying so."""
        then, now = entry["support_then"], entry["support_now"]
        then_key = "carried_then" if then is not None else "carried_then_withheld"
        now_key = "carried_now" if now is not None else "carried_now_withheld"
        return self.w(
            "carried_line",
            listed=self.w(f"carried_{entry['listed_as']}"),
            then=self.w(then_key, share=self.pct(then), votes=entry["votes_then"]),
            now=self.w(now_key, share=self.pct(now), votes=entry["votes_now"]),
        )

    def common_ground_hint(self) -> str:
        from bot.summary.bridging import MAX_FACTOR, MIN_INTERCEPT

        return self.w(
            "common_ground_hint", intercept=self.dec(MIN_INTERCEPT), factor=self.dec(MAX_FACTOR)
        )

    def common_ground_line(self, entry: CommonGround) -> str:
        return self.w(
            "common_ground_line",
            intercept=self.dec(entry["intercept"]),
            factor=self.dec(entry["factor"]),
            votes=entry["votes"],
        )

    def top(self) -> list[tuple[str, list[int]]]:
        """(heading, argument numbers) per stance, or overall when stances are withheld."""
        withheld = self.s.get("tally") is None
        out = [
            (self._top_heading(row.get("stance"), row.get("label"), withheld), row["arguments"])
            for row in self.s.get("top_arguments") or []
            if row["arguments"]
        ]
        if out or self.s.get("tally") is not None:
            return out
        # Summaries before schema 5 hold no list when the tally is withheld.
        ranked = sorted(
            (
                a
                for a in self.args
                if a.get("votes_published")
                and a["votes"] >= self.top_min()
                and 2 * (a["agree"] or 0) > a["votes"]
            ),
            key=lambda a: (-(a["agree"] or 0) / a["votes"], -a["votes"], a["number"]),
        )
        return [(self.w("top_any"), [a["number"] for a in ranked[:3]])] if ranked else []

    def _top_heading(self, stance: str | None, label: str | None, withheld: bool) -> str:
        if stance is None:
            return self.w("top_any" if withheld else "top_no_stance")
        return str(label or self.stance_label(stance))

    def support(self, arg: PublishedArgument) -> float | None:
        if not arg.get("votes_published"):
            return None
        value = arg.get("support")
        if value is None and arg.get("votes"):
            value = round(100 * (arg["agree"] or 0) / arg["votes"], 1)
        return None if value is None else float(value)

    def support_line(self, arg: PublishedArgument) -> str:
        return self.w(
            "support_line",
            agree=arg["agree"],
            share=self.pct(self.support(arg)),
            votes=arg["votes"],
        )

    def themes(self) -> list[Theme]:
        found = self.s.get("themes")
        return list(found.get("themes") or []) if found else []

    def terms(self) -> list[ThemeTerm]:
        found = self.s.get("themes")
        return list(found.get("terms") or []) if found else []

    def repro_line(self) -> str:
        """The reproducibility figures; summaries before schema 2 hold them elsewhere."""
        r: Mapping[str, object] = self.s.get("reproducibility") or {}
        a: Mapping[str, object] = self.analysis or {}
        themes: Mapping[str, object] = self.s.get("themes") or {}
        return self.w(
            "repro_line",
            schema=r.get("schema_version", self.s.get("schema_version", 1)),
            analysis=r.get("analysis_version", a.get("analysis_version")) or self.w("no_analysis"),
            themes=r.get("themes_version", themes.get("version")) or self.w("no_analysis"),
            seed=r.get("seed", a.get("seed")),
            participants=r.get("participants", self.s.get("participants")),
            positions=r.get("positions", self.s.get("positions")),
            arguments=r.get("arguments", len(self.args)),
            votes=r.get("votes", self.s.get("votes")),
            clustered=r.get("participants_clustered", a.get("participants_clustered", 0)),
        )

    def rep_share(self, rep: Representative, label: str) -> str:
        """Of whom a representative argument's share is: "9 of the 12 members of group A who
        voted on it"; summaries before schema 5 hold the share only."""
        agreed = rep["direction"] == "agree"
        voters = rep.get("voters")
        if voters:
            count = rep.get("agree") if agreed else rep.get("disagree")
            return self.w("group_share", count=count, voters=voters, label=label)
        share = rep.get("agree_share") if agreed else rep.get("disagree_share")
        if share is None:
            return ""
        return self.w("group_share_only", share=self.pct(share), label=label)

    def participation_line(self) -> str:
        """Participants, positions and voters: three counts, each of its own people."""
        r: Mapping[str, object] = self.s.get("reproducibility") or {}
        voters = r.get("voters")
        if voters is None:  # summaries before schema 2
            return self.m("summary_participation", participants=self.s["participants"])
        return self.w(
            "participation_line",
            participants=self.s["participants"],
            positions=self.s.get("positions", 0),
            voters=voters,
        )

    def top_min(self) -> int:
        from bot.summary import TOP_MIN_VOTERS

        return max(TOP_MIN_VOTERS, self.min)

    def map_points(self) -> list[MapPoint]:
        """The opinion-map points that may be drawn: the published groups' members.

        Older summaries also hold points outside the published groups (without a label),
        which may be a withheld group's members: they are left out. First-schema points carry
        no label at all: they are kept only when every group of the summary is described.
        """
        points: list[MapPoint] = list(self.analysis.get("map") or []) if self.analysis else []
        if not any(len(p) > 2 for p in points):
            hidden = any(not g.get("published", True) for g in self.groups())
            return [] if hidden else points
        published = {str(g.get("label") or g["id"]) for g in self.published_groups()}
        return [p for p in points if len(p) > 2 and p[2] is not None and str(p[2]) in published]
