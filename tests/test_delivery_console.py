"""Every post once, by key, on the console: ``debate-bot run`` killed (-9) as each post prints.

On SQLite and on PostgreSQL.

A terminal cannot be read back, so a post printed just before a crash is printed again after
the restart; what the bot promises is that both copies carry the same key, the last line of
the block, and that every post has one key. The reader (this test) keeps one block per key.
The round is short (a reminder after 4 s, the close after 10 s) and real processes are killed
with SIGKILL as soon as the announcement, the reminder and the summary appear.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from config_support import write_config_file

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"^\[post (?P<round>\d+)-(?P<kind>[a-z]+)-(?P<row>\d+)-(?P<code>\w+)-general\]$")


def write_config(directory: Path, database_url: str | None = None) -> Path:
    return write_config_file(
        directory,
        database_url=database_url,
        round_duration="10s",
        debate_extra="    reminder_before_close: 6s\n",
    )


class Bot:
    """``python -m bot run``, its stdout read line by line on a thread."""

    started: ClassVar[list[Bot]] = []

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        Bot.started.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def until_key(self, kind: str, within: float = 30.0) -> None:
        """Read until the key line of a ``kind`` post, then kill -9 at once."""
        deadline = time.monotonic() + within
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no {kind} within {within}s:\n" + "\n".join(self.seen)
                ) from None
            if line is None:
                raise AssertionError("the bot exited:\n" + "\n".join(self.seen))
            self.seen.append(line)
            found = KEY.match(line)
            if found and found["kind"] == kind:
                self.proc.send_signal(signal.SIGKILL)
                self.drain()
                return

    def drain(self) -> None:
        self.proc.wait(timeout=30)
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        self.close()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def quiet_then_stop(self, quiet: float = 3.0, within: float = 60.0) -> None:
        """Once the bot reads its input, read until nothing new for ``quiet`` seconds, then
        stop cleanly (SIGTERM). A line that is no command is answered once the console reads:
        until then the process may still be importing, and SIGTERM would end it unhandled."""
        self.say("ready?")
        deadline = time.monotonic() + within
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError("the bot exited:\n" + "\n".join(self.seen))
            if line.startswith("[console]"):
                break
            self.seen.append(line)
        while True:
            try:
                line = self.lines.get(timeout=quiet)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(timeout=30) == 0
            while (line := self.lines.get(timeout=10)) is not None:
                self.seen.append(line)
        finally:
            self.close()


@pytest.fixture(autouse=True)
def _stop_bots() -> Iterator[None]:
    """Whatever a test asserted, no bot outlives it and no pipe is left open."""
    yield
    while Bot.started:
        bot = Bot.started.pop()
        if bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait(timeout=30)
        bot.reader.join(timeout=10)  # it has read the end of the output
        bot.close()


def blocks(lines: list[str]) -> list[tuple[str, str | None]]:
    """Printed blocks of the channel (``[general] …``) with their key line, if they got one."""
    found: list[tuple[str, str | None]] = []
    current: list[str] | None = None
    for line in lines:
        if line.startswith("[general] "):
            current = [line]
            found.append((line, None))
        elif current is not None and KEY.match(line):
            found[-1] = (found[-1][0], line)
            current = None
        elif line.startswith("[dm:") or line.startswith("[console]"):
            current = None
    return found


def test_each_post_appears_once_by_key_across_kill_9(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url)
    output: list[str] = []

    first = Bot(config)
    first.say("@alice !debat ouvrir capitalisme-numerique")
    first.until_key("announcement")
    output += first.seen
    for kind in ("reminder", "summary"):
        bot = Bot(config)
        bot.until_key(kind)
        output += bot.seen
    last = Bot(config)
    last.quiet_then_stop()
    output += last.seen

    printed = blocks(output)
    assert printed, output
    # Every post of the round ends with its key (a kill can only cut a block short while it
    # is being written, and then it is printed whole after the restart).
    keys = [KEY.match(k) for _, k in printed if k is not None]
    by_kind: dict[str, set[str]] = {}
    for found in keys:
        assert found is not None
        by_kind.setdefault(found["kind"], set()).add(found.group(0))
    # One key per post: a repeat after a restart is the same post, never a new one.
    assert {kind: len(v) for kind, v in by_kind.items()} == {
        "announcement": 1,
        "reminder": 1,
        "summary": 1,
    }, output
    # A reader that keeps one block per key sees each post exactly once.
    kept = {k: first_line for first_line, k in reversed(printed) if k is not None}
    assert sorted(KEY.match(k)["kind"] for k in kept) == [  # type: ignore[index]
        "announcement",
        "reminder",
        "summary",
    ]
    assert "Rappel" in kept[next(iter(by_kind["reminder"]))]
    assert "Synthèse" in kept[next(iter(by_kind["summary"]))]
    # Repeats are exactly the copies with a key already seen (reported by the fault runs).
    repeats = Counter(k for _, k in printed if k is not None)
    assert all(n >= 1 for n in repeats.values())
