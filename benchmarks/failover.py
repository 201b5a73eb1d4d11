"""The failover drill at length: three bot processes on one PostgreSQL, the leader killed 100x.

Run: ``.venv/bin/python benchmarks/failover.py`` (``--kills N``, ``--pauses N``; the database
server is ``$DEBATE_BOT_TEST_PG``, by default ``postgresql://postgres@127.0.0.1:5432/postgres``,
where a scratch database is created and dropped).

The drill is ``tests/failover_support.py``'s, as ``tests/test_failover.py`` runs it with ten
kills: the leader is killed with SIGKILL at a random moment, as it prints a post or as a round
closes, in turn, and a replacement process starts after each kill; then it is paused with
SIGSTOP past its lease and resumed, ``--pauses`` times. Members send positions to the live
processes throughout. It prints the kills, the time to a new leader (max and mean), the
rounds, double transitions, double posts and lost acknowledged positions (all to be 0), and
exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from failover_support import Drill, Report

MODES = ("post", "close", "random")
LEASE = 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--pauses", type=int, default=5)
    args = parser.parse_args()
    admin = os.environ.get(
        "DEBATE_BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
    ).replace("+psycopg", "")
    name = f"debatebot_failover_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            report = _drill(Path(workdir), url, args.kills, args.pauses)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"drill of {time.monotonic() - started:.0f} s, lease {LEASE} s, 3 processes")
    print("\n".join(report.lines()))
    failed = (
        report.double_transitions
        or report.double_posts
        or report.lost_posts
        or report.lost_acks
        or report.unanswered
        or report.acted_after_pause
        or report.max_failover > LEASE + 3
    )
    for problem in report.problems:
        print("problem:", problem)
    return 1 if failed else 0


def _drill(workdir: Path, url: str, kills: int, pauses: int) -> Report:
    drill = Drill(workdir, url, lease=LEASE)
    try:
        drill.wait_leader()
        drill.start_feeding()
        for index in range(kills):
            drill.kill_leader(MODES[index % len(MODES)])
            if (index + 1) % 10 == 0:
                print(f"  {index + 1} kills", flush=True)
        for _ in range(pauses):
            drill.pause_leader()
            time.sleep(2 * drill.lease)
        return drill.finish()
    finally:
        for proc in drill.procs:
            proc.terminate()


if __name__ == "__main__":
    sys.exit(main())
