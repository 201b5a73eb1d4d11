"""Benchmark of the bridging ranking (``bot.summary.bridging``), with the common ground it finds.

Run: ``.venv/bin/python benchmarks/bridging.py``.

Inputs: the four Polis conversations of ``<repo parent>/shared/polis-opendata`` (or
``$DEBATE_BOT_POLIS_DATA``), latest vote per participant and comment, moderated-out comments
(and london.youth.policing's demographic questions, as ``tests/summary/test_polis_fidelity.py``
explains) left out; and a synthetic conversation of 10,000 participants x 500 arguments where
each participant votes on 20 to 60 arguments (uniformly drawn), in two opinion camps: a
tenth of the arguments are agreed on by both camps, the others lean to one camp or are
mostly rejected, with noise and passes.

For each input it prints the fit time from the list of votes (``fit_bridging``: preparing
the ratings, then the model), best of several runs (wall clock, ``time.perf_counter``), the
number of sweeps, and the top ten of the common-ground list of each conversation (number,
intercept, factor, agree or disagree votes and their share of the participants, the start of
the text), next to how many statements voted on by fewer than 20 % of the participants
Polis's group-aware consensus (over Polis's own groups) puts in its top ten.

Target: under 1 s for 10,000 x 500 on the development machine (2 cores).
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# The conversations, their location and the timing helper of the analysis benchmark.
from analysis import CONVERSATIONS, DATA, best_time  # noqa: E402

from bot.summary.analysis import Vote  # noqa: E402
from bot.summary.bridging import BridgingResult, fit_bridging, prepare_ratings  # noqa: E402
from bot.summary.polis_io import (  # noqa: E402
    load_polis_comments,
    load_polis_groups,
    load_polis_votes,
)

META = {"london.youth.policing": {"1", *(str(i) for i in range(4, 15))}}
TARGET_SECONDS = 1.0


def synthetic(n_participants: int, n_arguments: int, seed: int = 0) -> list[Vote]:
    rng = np.random.default_rng(seed)
    camp = rng.choice([-1.0, 1.0], n_participants)
    lean = camp + rng.normal(0.0, 0.4, n_participants)  # where each sits on the axis
    kind = rng.choice([0, 1, 2], n_arguments, p=[0.1, 0.6, 0.3])  # bridging, split, rejected
    appeal = np.where(kind == 0, 2.0, np.where(kind == 1, 0.0, -1.5))
    appeal += rng.normal(0.0, 0.3, n_arguments)
    side = np.where(kind == 1, rng.choice([-2.0, 2.0], n_arguments), 0.0)
    per = rng.integers(20, 61, n_participants)
    votes: list[Vote] = []
    for p in range(n_participants):
        cols = rng.choice(n_arguments, int(per[p]), replace=False)
        agree = 1.0 / (1.0 + np.exp(-(appeal[cols] + side[cols] * lean[p])))
        roll = rng.random(cols.size)
        values = np.where(rng.random(cols.size) < 0.1, 0, np.where(roll < agree, 1, -1))
        votes += [
            Vote(f"p{p}", f"s{c}", int(v))
            for c, v in zip(cols.tolist(), values.tolist(), strict=True)
        ]
    return votes


def group_aware_top(votes: list[Vote], moderated: set[str], groups: dict[str, int]) -> list[str]:
    """Polis's group-aware consensus (product over its groups of (A + 1) / (S + 2)), top 10."""
    latest = {(v.participant, v.statement): v for v in sorted(votes, key=lambda v: v.timestamp)}
    cells: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for v in latest.values():
        if v.statement not in moderated and v.participant in groups:
            cell = cells[(v.statement, groups[v.participant])]
            cell[0] += v.value == 1
            cell[1] += 1
    ids = sorted(set(groups.values()))
    score = {}
    for statement in {s for s, _ in cells}:
        score[statement] = float(
            np.prod([(cells[(statement, g)][0] + 1) / (cells[(statement, g)][1] + 2) for g in ids])
        )
    return sorted(score, key=lambda s: (-score[s], s))[:10]


def short(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def report(
    name: str, votes: list[Vote], moderated: set[str], runs: int
) -> tuple[BridgingResult, float]:
    seconds = best_time(lambda: fit_bridging(votes, moderated_out=moderated), runs)
    prepare = best_time(lambda: prepare_ratings(votes, moderated), runs)
    result = fit_bridging(votes, moderated_out=moderated)
    print(
        f"{name:28s} {result.participants:>6} participants x {len(result.arguments):<4} "
        f"arguments, {result.ratings:>8,} agree/disagree votes: fit {seconds * 1e3:7.1f} ms "
        f"(ratings {prepare * 1e3:6.1f} ms), {result.iterations} sweeps, "
        f"{'converged' if result.converged else 'NOT converged'}, "
        f"{len(result.common_ground)} common-ground arguments",
        flush=True,
    )
    return result, seconds


def main() -> int:
    print(f"times = best of several runs; {os.cpu_count()} CPU(s)")
    ok = True
    lists: list[str] = []
    for name in CONVERSATIONS:
        folder = DATA / name
        if not folder.is_dir():
            print(f"{name}: missing ({folder})")
            ok = False
            continue
        votes = load_polis_votes(folder / "votes.csv")
        texts, moderated = load_polis_comments(folder / "comments.csv")
        moderated |= META.get(name, set())
        result, _ = report(name, votes, moderated, runs=10)
        ok &= result.converged
        participants = result.participants
        rare = {s for s, a in result.arguments.items() if a.votes < 0.2 * participants}
        rare |= {v.statement for v in votes} - set(result.arguments)
        polis_top = group_aware_top(
            votes, moderated, load_polis_groups(folder / "participants-votes.csv")
        )
        lists.append(
            f"\n{name}: common ground, top 10 (Polis's group-aware consensus top 10 holds "
            f"{len(rare & set(polis_top))} statements voted on by < 20 % of the participants; "
            f"this list {len(rare & set(result.common_ground[:10]))})"
        )
        for rank, statement in enumerate(result.common_ground[:10], 1):
            fit = result.arguments[statement]
            lists.append(
                f"  {rank:2d}. #{statement:<4} i={fit.intercept:.2f} f={fit.factor:+.2f} "
                f"{fit.votes:>4} votes ({100 * fit.votes / participants:3.0f} %)  "
                f"{short(texts.get(statement, ''))}"
            )
        if not result.common_ground:
            lists.append("  (none)")
    synthetic_votes = synthetic(10_000, 500)
    result, seconds = report("synthetic 10,000 x 500", synthetic_votes, set(), runs=3)
    target = "met" if seconds < TARGET_SECONDS else "MISSED"
    print(f"synthetic target: under {TARGET_SECONDS:.0f} s, {target}")
    ok &= seconds < TARGET_SECONDS and result.converged
    print("\n".join(lists))
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
