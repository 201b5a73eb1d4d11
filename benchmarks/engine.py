"""Engine throughput and latency, on SQLite and PostgreSQL.

    python benchmarks/engine.py [--participants 1000] [--rounds-per-participant 20]
                                [--backend sqlite|postgresql|all] [--pg URL]

For each backend (each in its own process, so peak RSS is per backend) it prints:
- positions/s and votes/s with N concurrent participants (every call returns only after its
  write is committed: the figure counts acknowledged, durable writes);
- p50/p99 latency from call to acknowledgement, under that burst and under a paced load of
  2,000 submissions/s;
- peak RSS of the process;
- the raw ceiling: the same rows inserted by a plain driver ``executemany`` in one
  transaction, and the ratio of the engine's figure to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.engine import Engine  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_config(data_dir: Path, url: str) -> Config:
    return Config.model_validate(
        {
            "data_dir": str(data_dir),
            "database_url": url,
            "limits": {"actions_per_minute": 10_000, "arguments_per_participant": 100},
            "platforms": {"console": {"enabled": False}},
            "debates": [
                {
                    "id": "bench",
                    "title": "Bench",
                    "pack": "progressive-alliance-2018",
                    "schedule": {"manual": True},
                    "round_duration": "1d",
                    "stances": ["pour", "contre", "nuance", "abstention"],
                    "questions": [],
                }
            ],
        }
    )


async def timed(coro: Any, latencies: list[float]) -> None:
    start = time.perf_counter()
    await coro
    latencies.append(time.perf_counter() - start)


async def run_backend(url: str, participants: int, per_participant: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), url)
        db = Database(url)
        db.migrate()
        engine = Engine(config, db, config.load_packs(), b"b" * 32)
        await engine.start()
        info = await engine.open_round("bench")
        rid = info.id
        stances = list(engine.open_rounds()[0].stances)

        # 1. Positions: N concurrent participants, each changing their stance repeatedly.
        latencies: list[float] = []

        async def member(i: int) -> None:
            for j in range(per_participant):
                await timed(
                    engine.submit_position(rid, "bench", f"u{i}", stances[(i + j) % 2]),
                    latencies,
                )

        batches0, ops0 = engine.writer.batches, engine.writer.ops
        start = time.perf_counter()
        await asyncio.gather(*(member(i) for i in range(participants)))
        elapsed = time.perf_counter() - start
        burst_batches = engine.writer.batches - batches0
        burst_ops = engine.writer.ops - ops0
        positions = participants * per_participant
        pos_rate = positions / elapsed
        pos_p50, pos_p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)

        # 2. Votes: 50 arguments, every participant votes on each of them.
        arg_ids = []
        for k in range(50):
            await engine.add_argument(rid, "bench", f"author{k}", f"Argument {k}")
        arg_ids = [a for a in engine.open_rounds()[0].arguments if a > 0]
        vote_lat: list[float] = []

        async def voter(i: int) -> None:
            for arg_id in arg_ids[: max(1, per_participant)]:
                await timed(engine.vote(rid, "bench", f"u{i}", arg_id, (i % 3) - 1), vote_lat)

        start = time.perf_counter()
        await asyncio.gather(*(voter(i) for i in range(participants)))
        vote_elapsed = time.perf_counter() - start
        votes = participants * min(len(arg_ids), max(1, per_participant))
        vote_rate = votes / vote_elapsed

        # 3. Paced load: 2,000 submissions/s for 5 s, latency per submission.
        paced: list[float] = []
        rate, seconds = 2000, 5
        tasks = []
        t0 = time.perf_counter()
        for n in range(rate * seconds):
            target = t0 + n / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(
                asyncio.create_task(
                    timed(engine.submit_position(rid, "bench", f"p{n}", stances[n % 2]), paced)
                )
            )
        await asyncio.gather(*tasks)
        paced_achieved = len(paced) / (time.perf_counter() - t0)

        await engine.stop()
        db.close()
        ceiling = raw_ceiling(url, max(positions, 100_000))
        return {
            "backend": url.split(":", 1)[0],
            "participants": participants,
            "positions": positions,
            "positions_per_s": round(pos_rate),
            "position_p50_ms": round(pos_p50 * 1000, 2),
            "position_p99_ms": round(pos_p99 * 1000, 2),
            "votes": votes,
            "votes_per_s": round(vote_rate),
            "vote_p99_ms": round(percentile(vote_lat, 0.99) * 1000, 2),
            "paced_rate_per_s": round(paced_achieved),
            "paced_p50_ms": round(percentile(paced, 0.5) * 1000, 2),
            "paced_p99_ms": round(percentile(paced, 0.99) * 1000, 2),
            "mean_batch": round(burst_ops / max(1, burst_batches), 1),
            "raw_ceiling_rows_per_s": round(ceiling),
            "ratio_to_ceiling": round(pos_rate / ceiling, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


def raw_ceiling(url: str, rows: int) -> float:
    """Plain driver executemany of ``rows`` position-shaped rows in one transaction."""
    data = [(1, secrets.token_hex(16), "pour") for _ in range(rows)]
    ddl = "CREATE TABLE ceiling (id {pk}, round_id INTEGER, participant VARCHAR(64), stance VARCHAR(64), UNIQUE (round_id, participant))"  # noqa: E501
    if url.startswith("sqlite"):
        import sqlite3

        path = url.split(":///", 1)[1] + ".ceiling"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(ddl.format(pk="INTEGER PRIMARY KEY"))
        start = time.perf_counter()
        conn.executemany(
            "INSERT INTO ceiling (round_id, participant, stance) VALUES (?, ?, ?)", data
        )
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.close()
        os.unlink(path)
        return rows / elapsed
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute("DROP TABLE IF EXISTS ceiling")
        conn.execute(ddl.format(pk="SERIAL PRIMARY KEY"))
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ceiling (round_id, participant, stance) VALUES (%s, %s, %s)", data
            )
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE ceiling")
        conn.commit()
    return rows / elapsed


def child(args: argparse.Namespace) -> None:
    if args.backend == "sqlite":
        tmp = tempfile.mkdtemp()
        url = f"sqlite:///{tmp}/bench.db"
        result = asyncio.run(run_backend(url, args.participants, args.rounds_per_participant))
    else:
        import psycopg

        name = f"debatebot_bench_{secrets.token_hex(4)}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rsplit("/", 1)[0] + "/" + name
        try:
            result = asyncio.run(run_backend(url, args.participants, args.rounds_per_participant))
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--rounds-per-participant", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--pg", default=PG_ADMIN)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    for backend in backends:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--backend",
            backend,
            "--participants",
            str(args.participants),
            "--rounds-per-participant",
            str(args.rounds_per_participant),
            "--pg",
            args.pg,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{backend}: failed\n{out.stderr}", file=sys.stderr)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['backend']:<10} {r['participants']} concurrent participants\n"
            f"  positions: {r['positions']} acknowledged in burst, {r['positions_per_s']}/s, "
            f"p50 {r['position_p50_ms']} ms, p99 {r['position_p99_ms']} ms "
            f"(mean group commit {r['mean_batch']} writes)\n"
            f"  votes:     {r['votes']} acknowledged, {r['votes_per_s']}/s, "
            f"p99 {r['vote_p99_ms']} ms\n"
            f"  paced 2,000/s: achieved {r['paced_rate_per_s']}/s, "
            f"p50 {r['paced_p50_ms']} ms, p99 {r['paced_p99_ms']} ms\n"
            f"  raw ceiling (driver executemany, one transaction): "
            f"{r['raw_ceiling_rows_per_s']} rows/s; engine/ceiling = {r['ratio_to_ceiling']}\n"
            f"  peak RSS: {r['peak_rss_mb']} MB"
        )


if __name__ == "__main__":
    main()
