"""The summary chart: stance distribution, and the opinion map when there are groups.

One PNG (matplotlib, Agg backend, no display needed) with one or two panels, drawn only from
the published summary: a withheld tally draws no bars, and the map shows the members of the
published groups only (:meth:`~bot.summary.view.SummaryView.map_points`). Summaries of
schema 3 hold no other point; older ones also hold points outside the published groups
(without a label), which may be the members of a withheld group: they are not drawn. Points of
the first schema carry no label at all: they are drawn in grey, when every group is published.

The chart stands alone: its title gives the round's code, closing date and question, the map
has a key, counts have integer ticks, and figures follow the summary language's number
format. Its description in words is :attr:`bot.summary.sections.Document.chart_alt`.
"""

from __future__ import annotations

import io
import textwrap
import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.summary.model import Group, MapPoint, Summary, TallyRow
from bot.summary.view import SummaryView, percent

PALETTE = ("#2f5d9e", "#d9822b", "#3a8f5c", "#b3261e", "#7b5ea7", "#8c6d46")
UNGROUPED = "#b8bec8"


def render_chart(summary: Summary, *, narrow: bool = False) -> bytes | None:
    """A PNG, or None when there is nothing that may be published; ``narrow``: the panels
    one above the other, for a phone's width."""
    # Stance labels come from configuration and may hold characters the bundled font lacks:
    # a missing glyph is drawn as a box, which is no reason to fail the summary.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing", category=UserWarning)
        fig = chart_figure(summary, narrow=narrow)
        if fig is None:
            return None
        try:
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", metadata={"Software": None})
        finally:
            plt.close(fig)
    return buffer.getvalue()


def chart_figure(summary: Summary, *, narrow: bool = False) -> Figure | None:
    """The chart as a matplotlib figure (the caller closes it), or None when there is
    nothing that may be published."""
    v = SummaryView(summary)
    tally = summary.get("tally")
    points = v.map_points()
    if tally is None and not points:
        return None
    panels = (1 if tally is not None else 0) + (1 if points else 0)
    if narrow:  # about 400 px wide: shown at its size on a phone, its text stays readable
        fig, grid = plt.subplots(panels, 1, figsize=(3.7, 3.6 * panels), dpi=110, squeeze=False)
        axes = [row[0] for row in grid]
    else:
        fig, grid = plt.subplots(1, panels, figsize=(5.2 * panels, 4.3), dpi=110, squeeze=False)
        axes = list(grid[0])
    try:
        fig.suptitle(
            _title(v, 0.78 if narrow else panels), fontsize=10 if narrow else 11, fontweight="bold"
        )
        if tally is not None:
            _tally_panel(axes[0], tally, v.words)
        if points:
            _map_panel(axes[-1], points, v.published_groups(), v.words)
        fig.tight_layout()
    except Exception:
        plt.close(fig)
        raise
    return fig


def _title(v: SummaryView, panels: float) -> str:
    """The round's code, closing date and question, wrapped to the chart's width."""
    rnd = v.s["round"]
    title = v.w(
        "chart_title",
        code=rnd["code"],
        date=v.when(rnd["closes_at"])[:10],
        question=rnd["question"],
    )
    return "\n".join(textwrap.wrap(title, width=int(52 * panels))) or title


def _group_key(group: Group) -> str:
    return str(group.get("label") or group["id"])


def _tally_panel(ax: Any, tally: list[TallyRow], words: dict[str, str]) -> None:
    labels = [str(row["label"]) for row in tally][::-1]
    counts = [int(row["count"]) for row in tally][::-1]
    shares = [float(row["share"]) for row in tally][::-1]
    bars = ax.barh(labels, counts, color=PALETTE[0])
    top = max(counts) if counts and max(counts) > 0 else 1
    for bar, count, share in zip(bars, counts, shares, strict=True):
        ax.text(
            bar.get_width() + top * 0.02,
            bar.get_y() + bar.get_height() / 2,
            words["chart_bar"].format(count=count, share=percent(share, words)),
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, top * 1.35)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # people: no 0.5 tick
    ax.set_xlabel(words["chart_count_axis"], fontsize=8)
    ax.set_title(words["chart_tally"])
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelsize=8)


def _map_panel(
    ax: Any, points: list[MapPoint], groups: list[Group], words: dict[str, str]
) -> None:
    colour = {_group_key(g): PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    # Older summaries stored bare (x, y) points; newer ones add the published group label.
    keys = [str(p[2]) if len(p) > 2 and p[2] is not None else None for p in points]
    ax.scatter(
        xs,
        ys,
        s=16,
        alpha=0.7,
        c=[colour.get(k, UNGROUPED) if k else UNGROUPED for k in keys],
        edgecolors="none",
    )
    for group in groups:
        if not group.get("centre"):
            continue
        label = _group_key(group)
        x, y = group["centre"]
        ax.annotate(
            words["chart_group"].format(label=label, size=group["size"]),
            (float(x), float(y)),
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold",
            color=colour[label],
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": colour[label], "alpha": 0.9},
        )
    ax.margins(0.22)  # room for the group labels drawn at the centres
    ax.set_title(words["chart_map"])
    ax.set_xticks([])
    ax.set_yticks([])
    key = "\n".join(textwrap.wrap(words["chart_map_key"], width=48))
    ax.set_xlabel(key, fontsize=8, color="#4a5261")
    ax.axhline(0, color="#e3e6eb", lw=0.8, zorder=0)
    ax.axvline(0, color="#e3e6eb", lw=0.8, zorder=0)
