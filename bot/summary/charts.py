"""The summary chart: stance distribution, and the opinion map when there are groups."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def render_chart(summary: dict[str, Any]) -> bytes | None:
    """A PNG, or None when there is nothing that may be published."""
    tally = summary.get("tally")
    analysis = summary.get("analysis") or {}
    points = analysis.get("map") or []
    if tally is None and not points:
        return None
    panels = (1 if tally is not None else 0) + (1 if points else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), dpi=100, squeeze=False)
    index = 0
    if tally is not None:
        ax = axes[0][index]
        labels = [row["label"] for row in tally]
        counts = [row["count"] for row in tally]
        ax.barh(labels[::-1], counts[::-1], color="#4C72B0")
        ax.set_title(summary["round"]["code"])
        ax.set_xlabel("n")
        index += 1
    if points:
        ax = axes[0][index]
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=12, alpha=0.6)
        for group in analysis.get("groups", []):
            if group.get("published") and group.get("centre"):
                x, y = group["centre"]
                ax.annotate(
                    f"{group['id'] + 1} ({group['size']})",
                    (x, y),
                    fontsize=11,
                    fontweight="bold",
                )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
