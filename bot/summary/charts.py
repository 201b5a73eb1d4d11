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

PALETTE = ("#2f5d9e", "#d9822b", "#3a8f5c", "#b3261e", "#7b5ea7", "#8c6d46")
UNGROUPED = "#b8bec8"
_TITLES = {
    "fr": {"tally": "Positions", "map": "Carte des opinions", "people": "personnes"},
    "en": {"tally": "Stances", "map": "Opinion map", "people": "people"},
}


def _pct(value: float, language: str) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", ",") if language == "fr" else text


def render_chart(summary: dict[str, Any]) -> bytes | None:
    """A PNG, or None when there is nothing that may be published."""
    tally = summary.get("tally")
    analysis = summary.get("analysis") or {}
    points = _drawn_points(analysis)
    if tally is None and not points:
        return None
    language = str(summary.get("language", "fr"))
    titles = _TITLES.get(language, _TITLES["en"])
    panels = (1 if tally is not None else 0) + (1 if points else 0)
    # Stance labels come from configuration and may hold characters the bundled font lacks:
    # a missing glyph is drawn as a box, which is no reason to fail the summary.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing", category=UserWarning)
        fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), dpi=110, squeeze=False)
        try:
            index = 0
            if tally is not None:
                _tally_panel(axes[0][index], tally, titles["tally"], language)
                index += 1
            if points:
                _map_panel(axes[0][index], points, analysis, titles)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", metadata={"Software": None})
        finally:
            plt.close(fig)
    return buffer.getvalue()


def _drawn_points(analysis: dict[str, Any]) -> list[list[Any]]:
    points: list[list[Any]] = list(analysis.get("map") or [])
    if not any(len(p) > 2 for p in points):
        return points  # first schema: bare (x, y) points, all of the crowd
    published = {
        str(g.get("label") or g["id"]) for g in analysis.get("groups", []) if g.get("published")
    }
    return [p for p in points if len(p) > 2 and p[2] is not None and str(p[2]) in published]


def _tally_panel(ax: Any, tally: list[dict[str, Any]], title: str, language: str) -> None:
    labels = [str(row["label"]) for row in tally][::-1]
    counts = [int(row["count"]) for row in tally][::-1]
    shares = [float(row["share"]) for row in tally][::-1]
    bars = ax.barh(labels, counts, color=PALETTE[0])
    top = max(counts) if counts and max(counts) > 0 else 1
    for bar, count, share in zip(bars, counts, shares, strict=True):
        ax.text(
            bar.get_width() + top * 0.02,
            bar.get_y() + bar.get_height() / 2,
            f"{count} ({_pct(share, language)} %)",
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, top * 1.35)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelsize=8)


def _map_panel(
    ax: Any, points: list[list[Any]], analysis: dict[str, Any], titles: dict[str, str]
) -> None:
    groups = [g for g in analysis.get("groups", []) if g.get("published")]
    colour = {
        str(g.get("label") or g["id"]): PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)
    }
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
        label = str(group.get("label") or group["id"])
        x, y = group["centre"]
        ax.annotate(
            f"{label} · {group['size']} {titles['people']}",
            (float(x), float(y)),
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold",
            color=colour[label],
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": colour[label], "alpha": 0.9},
        )
    ax.margins(0.22)  # room for the group labels drawn at the centres
    ax.set_title(titles["map"])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.axhline(0, color="#e3e6eb", lw=0.8, zorder=0)
    ax.axvline(0, color="#e3e6eb", lw=0.8, zorder=0)
