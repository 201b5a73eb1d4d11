"""What closing a round costs, and what PostgreSQL still keeps of its salt afterwards.

    python benchmarks/erasure.py [--participants 1000] [--votes-per-participant 10] [--pg URL]

For SQLite and PostgreSQL it opens a round, lets N participants take a stance, write an
argument and vote, then closes it and prints:
- the time of the close (re-keying every row, deleting the salt, and the scrub: WAL truncate
  on SQLite, VACUUM FULL on PostgreSQL), and of the summary;
- for PostgreSQL, where the salt's bytes can still be found right after the close: in the
  database's relation files (should be none) and in ``pg_wal`` segments (kept until they are
  recycled), then again after ``CHECKPOINT`` and ``pg_switch_wal()``.
Reading PostgreSQL's files uses ``pg_ls_dir``/``pg_read_binary_file``: run it as a superuser.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine import make_config  # noqa: E402  (the engine benchmark's config)

from bot.db import Database  # noqa: E402
from bot.engine import Engine  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def play(engine: Engine, participants: int, votes_each: int) -> tuple[int, bytes]:
    info = await engine.open_round("bench")
    r = engine.open_round_by_id(info.id)
    assert r is not None
    users = [f"user-{i}" for i in range(participants)]
    await asyncio.gather(
        *(engine.submit_position(r.id, "bench", u, r.stances[i % 3]) for i, u in enumerate(users))
    )
    numbers = await asyncio.gather(
        *(
            engine.add_argument(r.id, "bench", u, f"argument {u}")
            for u in users[: participants // 10]
        )
    )
    ids = [engine.argument_id(r.id, n) for n in numbers]
    rng = secrets.SystemRandom()
    await asyncio.gather(
        *(
            engine.vote(r.id, "bench", u, arg, rng.choice((-1, 0, 1)))
            for i, u in enumerate(users)
            for arg in rng.sample(ids, min(votes_each, len(ids)))
            if r.arguments[arg][1] != engine.pseudonym_for(r.id, "bench", u)
        ),
        return_exceptions=True,
    )
    return r.id, r.salt


def wal_segments_with(admin: Any, needle: bytes) -> tuple[int, int]:
    names = [row[0] for row in admin.execute("SELECT name FROM pg_ls_waldir()").fetchall()]
    found = 0
    for name in names:
        (data,) = admin.execute("SELECT pg_read_binary_file(%s)", (f"pg_wal/{name}",)).fetchone()
        found += needle in bytes(data)
    return found, len(names)


def relation_files_with(admin: Any, needle: bytes) -> int:
    admin.execute("CHECKPOINT")
    (oid,) = admin.execute(
        "SELECT oid FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    found = 0
    for (name,) in admin.execute(f"SELECT pg_ls_dir('base/{oid}')").fetchall():
        if name[0].isdigit():
            (data,) = admin.execute(
                "SELECT pg_read_binary_file(%s)", (f"base/{oid}/{name}",)
            ).fetchone()
            found += needle in bytes(data)
    return found


async def bench(url: str, participants: int, votes_each: int, admin_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), url)
        db = Database(url)
        db.migrate()
        engine = Engine(config, db, config.load_packs(), b"s" * 32)
        await engine.start()
        round_id, salt = await play(engine, participants, votes_each)
        summarise = engine.rounds.summarise
        timings: dict[str, float] = {}

        async def timed_summary(rid: int) -> bool:
            begin = time.perf_counter()
            done = await summarise(rid)
            timings["summary"] = time.perf_counter() - begin
            return done

        engine.rounds.summarise = timed_summary  # type: ignore[method-assign]
        start = time.perf_counter()
        await engine.close_round(round_id)
        total = time.perf_counter() - start
        close = total - timings.get("summary", 0.0)
        rows = db.read_sync(
            lambda c: c.exec_driver_sql(
                f"SELECT (SELECT count(*) FROM position WHERE round_id={round_id}),"
                f" (SELECT count(*) FROM argument WHERE round_id={round_id}),"
                f" (SELECT count(*) FROM vote WHERE round_id={round_id})"
            ).one()
        )
        print(
            f"{db.dialect}: {rows[0]} positions, {rows[1]} arguments, {rows[2]} votes: "
            f"close (salt deleted, re-key, scrub) {close * 1000:.0f} ms, "
            f"then summary {timings.get('summary', 0.0) * 1000:.0f} ms"
        )
        await engine.stop()
        db.close()
        if admin_url is not None:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as admin:
                in_files = relation_files_with(admin, salt)
                print(f"  relation files holding the salt after close: {in_files}")
                found, total_segments = wal_segments_with(admin, salt)
                print(
                    f"  pg_wal segments holding the salt after close: {found} of {total_segments}"
                )
                admin.execute("SELECT pg_switch_wal()")
                admin.execute("CHECKPOINT")
                admin.execute("SELECT pg_switch_wal()")
                admin.execute("CHECKPOINT")
                found, total_segments = wal_segments_with(admin, salt)
                print(
                    f"  after two CHECKPOINT + pg_switch_wal(): {found} of {total_segments} "
                    "(old segments are removed or recycled; a recycled one keeps its bytes until "
                    "new WAL overwrites it)"
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--votes-per-participant", type=int, default=10)
    parser.add_argument("--pg", default=PG_ADMIN)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        asyncio.run(bench(url, args.participants, args.votes_per_participant, None))
    import psycopg

    name = f"debatebot_erasure_{secrets.token_hex(4)}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = args.pg.rsplit("/", 1)[0]
    try:
        asyncio.run(
            bench(
                f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://"),
                args.participants,
                args.votes_per_participant,
                f"{base}/{name}",
            )
        )
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
