"""The failover drill: several ``debate-bot run`` processes on one PostgreSQL, leaders killed.

Used by ``tests/test_failover.py`` (a few kills) and ``benchmarks/failover.py`` (a hundred).
Each process is a real ``python -m bot run`` with the console adapter, its own data directory,
the same database and the same server secret (so every process derives the same pseudonyms).
Rounds open every few seconds on their own (``every`` schedule) and last a few seconds; the
lease is short. Members send positions to the live processes throughout (one member name per
message, so each reply is matched to its message).

What the drill checks, from the database and the processes' standard output:

* a new leader (the lease's holder, named ``<node>@<host>:<pid>``) within lease + a few
  seconds of each kill;
* every round opened at most once and closed at most once: the posts a transition queues are
  queued in its transaction, so a double transition would leave two announcement (or two
  summary) rows for one round and channel;
* no post printed twice, except the residual window the console cannot close: a post printed
  by a process killed before it could mark it delivered is printed again (same key) by the
  next leader; any other repeat counts as a double post;
* every post the database records as delivered was printed;
* a leader paused (SIGSTOP) past its lease and resumed posts nothing after it resumed, until
  its log says it leads again (a later epoch, taken rightly when the lease lapsed or was given
  up: the drill's last stop hands the lease round the processes it has not stopped yet);
* every acknowledged position is in the database (a round holds at least as many positions as
  members were told "recorded" for it);
* every message sent to a process that was never killed was answered.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from config_support import write_config_file

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"^\[post (?P<round>\d+)-(?P<kind>[a-z]+)-(?P<row>\d+)-(?P<code>\w+)-general\]$")
REPLY = re.compile(r"^\[dm:(?P<user>m\d+)\] (?P<text>.*)$")
ACK = re.compile(r"\((?:tour|round) (?P<code>\w+)\)")
HOLDER_PID = re.compile(r":(?P<pid>\d+)$")
LEADS = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*this process now leads")


class Proc:
    """One ``debate-bot run``; its stdout lines kept with the (monotonic) time they came."""

    def __init__(self, name: str, config: Path, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[tuple[float, str]] = []
        self.killed_at: float | None = None
        self.paused = False
        self._stdin = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def serving(self) -> bool:
        return self.killed_at is None and not self.paused and self.proc.poll() is None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def say(self, line: str) -> bool:
        with self._stdin:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
                return True
            except (BrokenPipeError, ValueError, OSError):
                return False

    def led_since(self, moment: float) -> float:
        """When (monotonic) this process's log first says it took the lease at or after
        ``moment``; infinity if it has not. The log's wall-clock time is written before the
        process acts as leader, and a stdout line's time is taken after it was printed."""
        offset = time.time() - time.monotonic()
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            found = LEADS.match(line)
            if found is None:
                continue
            wall = datetime.strptime(found["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if wall - offset >= moment:
                return wall - offset
        return float("inf")

    def kill(self) -> None:
        self.killed_at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self) -> None:
        if self.proc.poll() is None:
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log.close()


@dataclass
class Report:
    kills: int = 0
    pauses: int = 0
    failovers: list[float] = field(default_factory=list)
    pause_failovers: list[float] = field(default_factory=list)
    kill_modes: list[str] = field(default_factory=list)  # the fault of each of failovers
    rounds: int = 0
    double_transitions: int = 0
    double_posts: int = 0
    reprinted_after_kill: int = 0
    lost_posts: int = 0
    acted_after_pause: int = 0
    sent: int = 0
    acknowledged: int = 0
    lost_acks: int = 0
    unanswered: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def max_failover(self) -> float:
        return max(self.failovers + self.pause_failovers, default=0.0)

    def _slowest(self) -> str:
        if not self.failovers:
            return ""
        worst = max(range(len(self.failovers)), key=self.failovers.__getitem__)
        return f" (slowest: a kill {self.kill_modes[worst]})"

    def lines(self) -> list[str]:
        return [
            f"kills: {self.kills} (SIGKILL of the leader), pauses: {self.pauses} (SIGSTOP)",
            f"time to a new leader after a kill: max {max(self.failovers, default=0):.2f} s, "
            f"mean {sum(self.failovers) / max(1, len(self.failovers)):.2f} s"
            f"{self._slowest()}; after a pause: "
            f"max {max(self.pause_failovers, default=0):.2f} s",
            f"rounds: {self.rounds}, double transitions: {self.double_transitions}",
            f"double posts: {self.double_posts}, posts printed again after their printer was "
            f"killed (same key): {self.reprinted_after_kill}, delivered posts never printed: "
            f"{self.lost_posts}, posts by a paused leader after it resumed: "
            f"{self.acted_after_pause}",
            f"positions sent: {self.sent}, acknowledged: {self.acknowledged}, lost acks: "
            f"{self.lost_acks}, unanswered by a surviving process: {self.unanswered}",
        ]


class Drill:
    """Runs ``processes`` bots on ``db_url`` and kills or pauses their leaders."""

    def __init__(self, workdir: Path, db_url: str, processes: int = 3, lease: int = 2) -> None:
        self.workdir = workdir
        self.db_url = db_url
        self.lease = lease
        self.secret = workdir / "server-secret"
        self.procs: list[Proc] = []
        self.report = Report()
        self._sent: dict[str, tuple[Proc, float]] = {}
        self._resumed: list[tuple[Proc, float]] = []
        self._feeding = threading.Event()
        self._feeder: threading.Thread | None = None
        self._random = random.Random(int(os.environ.get("FAILOVER_SEED", "0")) or None)
        for _ in range(processes):
            self.spawn()

    # ------------------------------------------------------------------ processes

    def spawn(self) -> Proc:
        name = f"p{len(self.procs)}"
        directory = self.workdir / name
        config = write_config_file(
            directory,
            database_url=self.db_url,
            schedule="{every: 7s}",
            round_duration="4s",
            anonymity_extra=f", secret_file: {self.secret}",
        )
        with config.open("a", encoding="utf-8") as f:
            f.write(f"leader_lease: {self.lease}s\n")
        proc = Proc(name, config, directory / "stderr.log")
        self.procs.append(proc)
        return proc

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url.replace("+psycopg", ""), autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())

    def leader_pid(self) -> int | None:
        try:
            rows = self._query("SELECT holder FROM leader_lease WHERE expires_at > now()")
        except psycopg.Error:
            return None  # the schema is not there yet
        found = HOLDER_PID.search(rows[0][0]) if rows else None
        return int(found["pid"]) if found else None

    def wait_leader(self, other_than: int | None = None, within: float = 60.0) -> int:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            pid = self.leader_pid()
            if pid is not None and pid != other_than:
                return pid
            time.sleep(0.05)
        raise AssertionError(f"no new leader within {within}s")

    def proc_of(self, pid: int) -> Proc:
        return next(p for p in self.procs if p.pid == pid)

    # ------------------------------------------------------------------ members

    def start_feeding(self) -> None:
        self._feeding.set()
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def stop_feeding(self) -> None:
        self._feeding.clear()
        if self._feeder is not None:
            self._feeder.join(timeout=10)

    def _feed(self) -> None:
        number = 0
        while self._feeding.is_set():
            serving = [p for p in self.procs if p.serving]
            if serving:
                proc = self._random.choice(serving)
                number += 1
                user = f"m{number}"
                if proc.say(f"@{user} dm !position abstention"):
                    self._sent[user] = (proc, time.monotonic())
            time.sleep(self._random.uniform(0.03, 0.12))

    # ------------------------------------------------------------------ faults

    def kill_leader(self, mode: str) -> None:
        """Kill -9 the leader: at a random moment, as it prints a post, or as a round closes."""
        pid = self.wait_leader()
        leader = self.proc_of(pid)
        if mode == "post":
            seen = len(leader.lines)
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                if any(line.startswith("[general] ") for _, line in leader.lines[seen:]):
                    break  # the block is printed, its key not yet (or just): mid-delivery
                time.sleep(0.002)
        elif mode == "close":
            rows = self._query(
                "SELECT EXTRACT(EPOCH FROM (closes_at - (now() AT TIME ZONE 'UTC'))) "
                "FROM round WHERE state = 'open' ORDER BY closes_at LIMIT 1"
            )
            if rows:
                time.sleep(max(0.0, float(rows[0][0])) + self._random.uniform(0.0, 0.4))
        else:
            time.sleep(self._random.uniform(0.0, 2.5))
        killed_at = time.monotonic()
        leader.kill()
        self.report.kills += 1
        self.wait_leader(other_than=pid, within=self.lease + 30)
        self.report.failovers.append(time.monotonic() - killed_at)
        self.report.kill_modes.append(mode)
        self.spawn()

    def pause_leader(self) -> tuple[Proc, float]:
        """SIGSTOP the leader past its lease, wait for another, SIGCONT it: when it resumed."""
        pid = self.wait_leader()
        leader = self.proc_of(pid)
        time.sleep(self._random.uniform(0.0, 1.5))
        leader.paused = True
        leader.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        self.wait_leader(other_than=pid, within=self.lease + 30)
        self.report.pause_failovers.append(time.monotonic() - stopped_at)
        time.sleep(self.lease)
        resumed_at = time.monotonic()
        leader.proc.send_signal(signal.SIGCONT)
        leader.paused = False
        self.report.pauses += 1
        self._resumed.append((leader, resumed_at))
        return leader, resumed_at

    def settle(self, within: float = 60.0) -> None:
        """Wait for a quiet moment: no round open or closing, every post delivered."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            busy = self._query(
                "SELECT (SELECT count(*) FROM round WHERE state IN ('open', 'closed')) "
                "+ (SELECT count(*) FROM outbox WHERE NOT delivered AND kind <> 'progress')"
            )[0][0]
            if busy == 0:
                return
            time.sleep(0.1)
        raise AssertionError("the rounds never settled")

    # ------------------------------------------------------------------ the verdict

    def finish(self) -> Report:
        """Stop feeding, let things settle, read the database, stop every process, judge."""
        self.stop_feeding()
        time.sleep(2.0)  # the last messages answered
        self.settle()
        rounds = self._query(
            "SELECT r.id, r.code, r.state, "
            "(SELECT count(*) FROM outbox o WHERE o.round_id = r.id AND o.kind = 'announcement'),"
            "(SELECT count(*) FROM outbox o WHERE o.round_id = r.id AND o.kind = 'summary'),"
            "(SELECT count(*) FROM position p WHERE p.round_id = r.id) FROM round r"
        )
        delivered = {
            row[0] for row in self._query("SELECT id FROM outbox WHERE delivered AND attempts > 0")
        }
        console_kinds = {
            row[0] for row in self._query("SELECT id FROM outbox WHERE kind <> 'progress'")
        }
        for proc in self.procs:
            proc.terminate()
        self._judge(rounds, delivered & console_kinds)
        return self.report

    def _judge(self, rounds: list[tuple[Any, ...]], delivered: set[int]) -> None:
        report = self.report
        positions: dict[str, int] = {}
        for round_id, code, state, announcements, summaries, count in rounds:
            if state == "scheduled" or state == "skipped":
                continue
            report.rounds += 1
            positions[code] = count
            if announcements != 1 or summaries > 1:
                report.double_transitions += 1
                report.problems.append(
                    f"round {round_id}: {announcements} announcements, {summaries} summaries"
                )
        self._judge_posts(delivered)
        self._judge_members(positions)

    def _judge_posts(self, delivered: set[int]) -> None:
        report = self.report
        printed: dict[int, list[tuple[float, Proc]]] = defaultdict(list)
        for proc in self.procs:
            for moment, line in proc.lines:
                found = KEY.match(line)
                if found:
                    printed[int(found["row"])].append((moment, proc))
        for row, prints in printed.items():
            prints.sort(key=lambda item: item[0])
            for moment, proc in prints[:-1]:
                # Only a printer killed before it marked the row can leave it to be printed
                # again (the console cannot look back at what it printed).
                if proc.killed_at is not None and proc.killed_at >= moment:
                    report.reprinted_after_kill += 1
                else:
                    report.double_posts += 1
                    report.problems.append(f"outbox row {row} printed again by a live process")
        for proc, resumed_at in self._resumed:
            # Until it leads again, rightly: the lease lapsed or was given up since.
            until = proc.led_since(resumed_at)
            for moment, line in proc.lines:
                if not resumed_at <= moment < until:
                    continue
                if line.startswith("[general] ") or KEY.match(line):
                    report.acted_after_pause += 1
                    report.problems.append(f"{proc.name} posted after it resumed: {line}")
        for row in sorted(delivered - set(printed)):
            report.lost_posts += 1
            report.problems.append(f"outbox row {row} delivered but never printed")

    def _judge_members(self, positions: dict[str, int]) -> None:
        report = self.report
        acked: Counter[str] = Counter()
        replied: set[str] = set()
        for proc in self.procs:
            for _, line in proc.lines:
                found = REPLY.match(line)
                if not found:
                    continue
                replied.add(found["user"])
                ack = ACK.search(found["text"])
                if ack:
                    acked[ack["code"]] += 1
        report.sent = len(self._sent)
        report.acknowledged = sum(acked.values())
        for code, count in acked.items():
            stored = positions.get(code, 0)
            if stored < count:
                report.lost_acks += count - stored
                report.problems.append(f"round {code}: {count} acknowledged, {stored} stored")
        for user, (proc, _) in self._sent.items():
            if proc.killed_at is None and user not in replied:
                report.unanswered += 1
        if report.unanswered:
            report.problems.append(f"{report.unanswered} messages to live processes unanswered")
