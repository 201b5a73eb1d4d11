"""A second SIGINT forces the exit of ``debate-bot run`` while its clean stop is stuck."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from config_support import write_config_file

ROOT = Path(__file__).resolve().parents[1]

STUCK_RUN = """
import asyncio, io, sys
from pathlib import Path
from bot.cli import cmd_run
from bot.config import load_config

class Stuck:
    platform = "stuck"
    async def start(self): print("serving", flush=True)
    async def stop(self): await asyncio.Event().wait()  # a platform that never lets go
    async def publish(self, channel, post): return None

config = load_config(Path(sys.argv[1]))
sys.exit(asyncio.run(cmd_run(config, adapters={"stuck": lambda app: Stuck()})))
"""


def test_a_second_sigint_forces_the_exit(tmp_path: Path) -> None:
    config = write_config_file(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STUCK_RUN), str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "serving"
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
        assert proc.poll() is None  # the first one stops cleanly: here, it waits
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 130
        assert time.monotonic() - started < 5
        assert proc.stderr is not None
        assert "second SIGINT" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
