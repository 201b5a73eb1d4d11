"""Benchmark of the opinion-group analysis (``bot.summary.analysis``) against red-dwarf.

Run: ``.venv/bin/python benchmarks/analysis.py`` (``--quick`` skips the 50,000 x 1,000 input).

Inputs: the four Polis conversations of ``<repo parent>/shared/polis-opendata`` (or
``$DEBATE_BOT_POLIS_DATA``), latest vote per participant and comment; and two synthetic sparse
conversations, 10,000 participants x 500 statements and 50,000 x 1,000, where each participant
votes on 20 to 60 statements (uniformly drawn; mean 40, i.e. 8% and 4% of the matrix filled),
with four latent opinion camps plus noise, one vote per second.

For each input it prints: the single analysis time (``analyze``), the replay time
(``replay``, default batching; conversations only), the peak memory of one ``analyze`` call as
measured by ``tracemalloc`` (Python and NumPy allocations; a separate untimed run), and the
time of red-dwarf 0.4.0 ``reddwarf.implementations.polis.run_pipeline`` on the same votes.
Times are the best of several runs (wall clock, ``time.perf_counter``).

Targets: ``analyze`` faster than red-dwarf on every input, under 2 s for 10,000 x 500, and a
full replay under 10x the single analysis.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.summary.analysis import Vote, analyze, replay  # noqa: E402
from bot.summary.polis_io import load_polis_comments, load_polis_votes  # noqa: E402

DATA = Path(os.environ.get("DEBATE_BOT_POLIS_DATA", ROOT.parent / "shared" / "polis-opendata"))
CONVERSATIONS = (
    "15-per-hour-seattle",
    "brexit-consensus",
    "london.youth.policing",
    "scoop-hivemind.biodiversity",
)


def best_time(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(fn: Callable[[], object]) -> float:
    """Peak traced allocation during fn, in MiB (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def synthetic(n_participants: int, n_statements: int, seed: int = 0) -> list[Vote]:
    rng = np.random.default_rng(seed)
    camps = rng.integers(0, 4, n_participants)
    leaning = rng.choice([-1.0, 0.0, 1.0], size=(4, n_statements), p=[0.35, 0.3, 0.35])
    per = rng.integers(20, 61, n_participants)
    votes: list[Vote] = []
    t = 1_600_000_000.0
    for p in range(n_participants):
        cols = rng.choice(n_statements, int(per[p]), replace=False)
        noise = rng.random(cols.size)
        values = np.where(noise < 0.75, leaning[camps[p], cols], rng.integers(-1, 2, cols.size))
        for c, v in zip(cols.tolist(), values.astype(int).tolist(), strict=True):
            t += 1.0
            votes.append(Vote(str(p), str(c), int(v), t))
    return votes


def reddwarf_runner(votes: list[Vote], moderated: set[str]) -> Callable[[], object] | None:
    try:
        from reddwarf.implementations.polis import run_pipeline
    except ImportError:
        return None
    # red-dwarf wants integer ids (the ids here are numeric strings, as in Polis exports).
    records: list[dict[str, Any]] = [
        {
            "participant_id": int(v.participant),
            "statement_id": int(v.statement),
            "vote": v.value,
            "modified": v.timestamp,
        }
        for v in votes
    ]
    mod = sorted(int(s) for s in moderated)

    def run() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_pipeline(votes=records, mod_out_statement_ids=mod, random_state=0)

    return run


def report(
    name: str,
    votes: list[Vote],
    moderated: set[str],
    runs: int,
    with_replay: bool,
    reddwarf_runs: int,
) -> dict[str, float]:
    single = best_time(lambda: analyze(votes, moderated_out=moderated), runs)
    result = analyze(votes, moderated_out=moderated)
    row: dict[str, float] = {"single": single}
    line = (
        f"{name:28s} {len({v.participant for v in votes}):>6} x {result.statements:<5}"
        f" votes {len(votes):>9,}  analyze {single * 1e3:9.1f} ms"
    )
    if with_replay:
        rep_time = best_time(lambda: replay(votes, moderated_out=moderated), runs)
        updates = replay(votes, moderated_out=moderated).updates
        row["replay"] = rep_time
        line += f"  replay {rep_time * 1e3:8.1f} ms ({updates} updates, {rep_time / single:4.1f}x)"
    else:
        line += f"  replay {'n/a':>8s}   {'':22s}"
    memory = peak_memory(lambda: analyze(votes, moderated_out=moderated))
    row["memory"] = memory
    line += f"  peak {memory:7.1f} MiB"
    runner = reddwarf_runner(votes, moderated)
    if runner is not None:
        rd = best_time(runner, reddwarf_runs)
        row["reddwarf"] = rd
        line += f"  red-dwarf {rd * 1e3:9.1f} ms ({rd / single:5.1f}x slower)"
    else:
        line += "  red-dwarf not installed"
    print(line, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 50,000 x 1,000 input")
    args = parser.parse_args()
    print(
        "peak = tracemalloc peak of one analyze() call; times = best of several runs; "
        f"{os.cpu_count()} CPU(s)"
    )
    ok = True
    for name in CONVERSATIONS:
        folder = DATA / name
        if not folder.is_dir():
            print(f"{name}: missing ({folder})")
            ok = False
            continue
        votes = load_polis_votes(folder / "votes.csv")
        _, moderated = load_polis_comments(folder / "comments.csv")
        row = report(name, votes, moderated, runs=15, with_replay=True, reddwarf_runs=5)
        ok &= row["replay"] < 10 * row["single"]
        ok &= row.get("reddwarf", float("inf")) > row["single"]
    sizes = [(10_000, 500, 3, 2)] + ([] if args.quick else [(50_000, 1_000, 2, 1)])
    for n, m, runs, rd_runs in sizes:
        votes = synthetic(n, m)
        row = report(f"synthetic {n:,} x {m:,}", votes, set(), runs, False, rd_runs)
        ok &= row.get("reddwarf", float("inf")) > row["single"]
        if n == 10_000:
            ok &= row["single"] < 2.0
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
