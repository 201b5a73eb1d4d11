"""Benchmark of the replay at Polis's cadence (``debate-bot analyze --replay --replay-cadence
polis``) against the cold analysis (``debate-bot analyze``).

Run: ``.venv/bin/python benchmarks/replay.py`` (``--no-cli`` times the Python calls only;
``--checkout DIR`` times another checkout's code, e.g. a worktree of the previous commit).

Inputs: the four Polis conversations of ``<repo parent>/shared/polis-opendata`` (or
``$DEBATE_BOT_POLIS_DATA``), with the moderated-out comments of their ``comments.csv``.

For each conversation it prints the number of updates of the replay and, timed two ways:

* ``api``: ``analyze()`` on the latest votes (best of 5) and ``replay(..., batch=EVERY_POLL)``
  on the vote stream with its history (one run), as the CLI calls them;
* ``cli``: the wall-clock time of the two commands, ``debate-bot analyze --votes ...
  --comments ...`` and the same with ``--replay --replay-cadence polis``, start-up, CSV
  reading and JSON writing included (one run each);

with the ratio replay / cold of each, and CPU seconds next to the wall-clock seconds (the
machine may be shared: CPU time is the steadier figure). Target: the CLI ratio under 10 on
every conversation.

``--profile`` runs each replay once more under cProfile and prints where its time goes (the
functions of ``bot.summary`` by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DEBATE_BOT_POLIS_DATA", ROOT.parent / "shared" / "polis-opendata"))
CONVERSATIONS = (
    "london.youth.policing",
    "15-per-hour-seattle",
    "brexit-consensus",
    "scoop-hivemind.biodiversity",
)
TARGET = 10.0


def timed(fn: Callable[[], object], runs: int = 1) -> tuple[float, float, object]:
    """(best wall seconds, CPU seconds of that run, the last result) over ``runs`` runs."""
    best = (float("inf"), float("inf"))
    result: object = None
    for _ in range(runs):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best[0], best[1], result


def cli_time(args: list[str], checkout: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``debate-bot analyze`` run (output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "bot", "analyze", *args, "--output", f"{tmp}/out.json"],
            cwd=checkout,  # python -m puts the working directory first on the path
            check=True,
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def profile(fn: Callable[[], object]) -> None:
    """Prints the 15 ``bot.summary`` functions that take most of ``fn``'s time (cumulative,
    callees included) and what they take by themselves."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"bot/summary/", 15)
    lines = [
        line
        for line in out.getvalue().splitlines()
        if "bot/summary/" in line and line.split()[0].replace("/", "").isdigit()
    ]
    print("      calls   own s   cum s  function (under cProfile: times are inflated)")
    for line in lines:
        calls, own, _, cum, _, where = line.split(None, 5)
        print(f"  {calls:>9s} {own:>7s} {cum:>7s}  {where.split('bot/summary/')[-1]}")


def pair(cold: tuple[float, float], warm: tuple[float, float]) -> str:
    return (
        f"cold {cold[0]:7.3f} s (cpu {cold[1]:7.3f})  replay {warm[0]:7.2f} s "
        f"(cpu {warm[1]:7.2f})  ratio {warm[0] / cold[0]:6.1f}x (cpu {warm[1] / cold[1]:6.1f}x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="conversations (default: all four)")
    parser.add_argument("--no-cli", action="store_true", help="time the Python calls only")
    parser.add_argument(
        "--profile", action="store_true", help="also profile each replay (bot.summary functions)"
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        default=ROOT,
        help="time the code of this checkout instead (e.g. a worktree of an older commit, "
        "for before/after figures)",
    )
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    sys.path.insert(0, str(checkout))
    from bot.summary.analysis import EVERY_POLL, analyze, replay
    from bot.summary.polis_io import load_polis_comments, load_polis_votes

    print(f"code: {Path(sys.modules['bot'].__file__ or '').parent}")
    print(f"{os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.2f}")
    ok = True
    for name in args.names or CONVERSATIONS:
        folder = DATA / name
        if not folder.is_dir():
            print(f"{name}: missing ({folder})")
            ok = False
            continue
        latest = load_polis_votes(folder / "votes.csv")
        stream = load_polis_votes(folder / "votes.csv", keep_history=True)
        _, moderated = load_polis_comments(folder / "comments.csv")
        cold = timed(lambda: analyze(latest, moderated_out=moderated), runs=5)  # noqa: B023
        warm = timed(
            lambda: replay(stream, moderated_out=moderated, batch=EVERY_POLL)  # noqa: B023
        )
        updates = getattr(warm[2], "updates", 0)
        print(f"{name:28s} {updates:6d} updates  api  {pair(cold[:2], warm[:2])}", flush=True)
        if args.profile:
            profile(lambda: replay(stream, moderated_out=moderated, batch=EVERY_POLL))  # noqa: B023
        if args.no_cli:
            continue
        files = ["--votes", str(folder / "votes.csv"), "--comments", str(folder / "comments.csv")]
        cli_cold = cli_time(files, checkout)
        cli_warm = cli_time([*files, "--replay", "--replay-cadence", "polis"], checkout)
        print(f"{'':28s} {'':6s}          cli  {pair(cli_cold, cli_warm)}", flush=True)
        ok &= cli_warm[0] < TARGET * cli_cold[0]
    if not args.no_cli:
        verdict = "yes" if ok else "NO"
        print(f"CLI replay under {TARGET:g}x the cold analysis everywhere: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
