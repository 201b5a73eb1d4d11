"""The summary chart: stance distribution, and the opinion map when there are groups.

One PNG (matplotlib, Agg backend, no display needed) with one or two panels, drawn only from
the published summary: a withheld tally draws no bars, and the map shows the members of the
published groups only. Summaries of schema 3 hold no other point; older ones also hold points
outside the published groups (without a label), which may be the members of a withheld group:
they are not drawn. Points of the first schema carry no label at all and are drawn in grey.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bot.summary.model import Analysis, Group, MapPoint, Summary, TallyRow
from bot.summary.view import percent, words_of

PALETTE = ("#2f5d9e", "#d9822b", "#3a8f5c", "#b3261e", "#7b5ea7", "#8c6d46")
UNGROUPED = "#b8bec8"


def render_chart(summary: Summary) -> bytes | None:
    """A PNG, or None when there is nothing that may be published."""
    tally = summary.get("tally")
    analysis = summary.get("analysis")
    points = _drawn_points(analysis)
    if tally is None and not points:
        return None
    words = words_of(str(summary.get("language", "fr")))
    panels = (1 if tally is not None else 0) + (1 if points else 0)
    # Stance labels come from configuration and may hold characters the bundled font lacks:
    # a missing glyph is drawn as a box, which is no reason to fail the summary.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing", category=UserWarning)
        fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), dpi=110, squeeze=False)
        try:
            index = 0
            if tally is not None:
                _tally_panel(axes[0][index], tally, words)
                index += 1
            if points:
                _map_panel(axes[0][index], points, _published(analysis), words)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", metadata={"Software": None})
        finally:
            plt.close(fig)
    return buffer.getvalue()


def _published(analysis: Analysis | None) -> list[Group]:
    return [g for g in analysis.get("groups", []) if g.get("published")] if analysis else []


def _group_key(group: Group) -> str:
    return str(group.get("label") or group["id"])


def _drawn_points(analysis: Analysis | None) -> list[MapPoint]:
    points: list[MapPoint] = list(analysis.get("map") or []) if analysis else []
    if not any(len(p) > 2 for p in points):
        return points  # first schema: bare (x, y) points, all of the crowd
    published = {_group_key(g) for g in _published(analysis)}
    return [p for p in points if len(p) > 2 and p[2] is not None and str(p[2]) in published]


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
    ax.axhline(0, color="#e3e6eb", lw=0.8, zorder=0)
    ax.axvline(0, color="#e3e6eb", lw=0.8, zorder=0)
