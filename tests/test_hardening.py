"""What the operator's machine keeps: file modes, logs, the terminal, backups, the secret."""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from config_support import write_config_file

from bot.config import ConsoleConfig
from bot.logs import scrub, setup_logging
from bot.platforms import AdapterContext

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = ["zorglub-a", "zorglub-b", "zorglub-c", "zorglub-d"]


def write_config(tmp_path: Path, extra: str = "") -> Path:
    return write_config_file(
        tmp_path,
        log_level="DEBUG",
        questions="[numerisation-justice-1]",
        stances="[equitable, inequitable, nuance, abstention]",
        anonymity_extra=extra,
    )


def run_round(config: Path) -> subprocess.CompletedProcess[str]:
    lines = ["@alice !debat ouvrir capitalisme-numerique"]
    for i, user in enumerate(MEMBERS):
        stance = ("equitable", "inequitable")[i % 2]
        lines.append(f"@{user} dm !position {stance} Texte confidentiel de {user}.")
    for user in MEMBERS:
        lines += [f"@{user} dm !voter", f"@{user} dm 1", f"@{user} dm 2"]
    lines += ["@alice !debat fermer", "@alice !debat exporter md", "@alice !debat exporter csv"]
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def walk(root: Path) -> Iterator[Path]:
    yield root
    yield from sorted(root.rglob("*"))


def test_data_dir_is_private_and_logs_carry_no_member(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = run_round(config)
    assert result.returncode == 0, result.stderr
    assert "Tour" in result.stdout and "exports" in result.stdout
    data = tmp_path / "data"
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in walk(data)}
    assert any(name.endswith(".md") for name in modes)  # the exports are among them
    assert any(name.endswith("debates.db") for name in modes)
    for name, mode in modes.items():
        expected = 0o700 if (tmp_path / name).is_dir() else 0o600
        assert mode == expected, f"{name} has mode {mode:o}"

    log = result.stderr
    assert "round 1 opened" in log and "summarised" in log  # the log is captured
    for user in MEMBERS:
        assert user not in log
    assert "confidentiel" not in log
    # Library chatter stays out even at DEBUG (APScheduler's "Added job …", "Running job …").
    assert "apscheduler" not in log and "Added job" not in log


def test_existing_loose_data_dir_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    result = run_round(write_config(tmp_path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_console_strips_terminal_controls(config_factory: Any) -> None:
    import asyncio

    from bot.adapters.console import ConsoleAdapter
    from bot.app import App

    out = io.StringIO()
    config = config_factory()

    def console(context: AdapterContext[ConsoleConfig]) -> ConsoleAdapter:
        return ConsoleAdapter(context.settings, context.commands, context.export_dir, out=out)

    async def go() -> None:
        app = App(config, adapters={"console": console}, tick_seconds=3600)
        await app.start()
        try:
            adapter = app.adapters["console"]
            assert isinstance(adapter, ConsoleAdapter)
            await adapter.feed("@alice !debat ouvrir capitalisme-numerique")
            hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mrouge\x9b31m\x9d8;;http://x\x9c\x07\x08"
            await adapter.feed(f"@bob dm !{hostile}")
            await adapter.feed(f"@bob dm !position {hostile}")
            await adapter.feed(f"@bob dm !position abstention argument {hostile} fin")
            await adapter.feed("@bob dm !ma-position")
        finally:
            await app.stop()

    asyncio.run(go())
    printed = out.getvalue()
    assert "rouge" in printed and "fin" in printed  # the visible text is kept
    for control in ("\x1b", "\x07", "\x08", "\x9b", "\x9d", "\x9c"):
        assert control not in printed, repr(control)


def test_backup_is_consistent_private_and_has_no_secret(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_round(config).returncode == 0
    out = tmp_path / "backups" / "debates-backup.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "backup", "--config", str(config), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with sqlite3.connect(out) as conn:
        assert conn.execute("SELECT count(*) FROM round_summary").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM round_salt").fetchone() == (0,)
    conn.close()
    secret = (tmp_path / "data" / "server-secret").read_bytes().strip()
    assert secret not in out.read_bytes()
    assert not list(out.parent.glob("*-wal"))


def test_secret_file_can_live_outside_the_data_dir(tmp_path: Path) -> None:
    secret = tmp_path / "keys" / "debate-bot.secret"
    config = write_config(tmp_path, extra=f", secret_file: {secret}")
    assert run_round(config).returncode == 0
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert not (tmp_path / "data" / "server-secret").exists()


def test_scrub_removes_platform_identifiers() -> None:
    line = (
        "sync for @alice:example.org in !AbCdEfGhIjKlMnOp:example.org event "
        "$Zx9_8-7y6W5v4U3t2S1r0Q interaction 1234567890123456789 token "
        "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpYWVpYWVpYWVpYWVpYWVpYWVo"
    )
    line += (
        " syt_Ym90_abcdefghijklmnopqrst_0AbCdE /sync?access_token=xyz123&since=s1"
        " session 4b2QyDp5E6Z1k+UJh8Zf3Wqk9l/3ZB0t2uAuBKkJgXo unknown device: @bob:hs QWERTYUIOP"
    )
    cleaned = scrub(line)
    for secret in (
        "alice",
        "AbCdEfGh",
        "Zx9_8",
        "1234567890123456789",
        "aW50ZXJh",
        "syt_",
        "xyz123",
        "4b2QyDp5",
        "QWERTYUIOP",
    ):
        assert secret not in cleaned
    assert scrub("round 12 of debate capitalisme-numerique opened") == (
        "round 12 of debate capitalisme-numerique opened"
    )


def test_third_party_debug_is_dropped_own_debug_kept() -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("DEBUG", stream=buffer)
        logging.getLogger("nio.responses").setLevel(logging.DEBUG)  # as a careless library might
        logging.getLogger("nio.responses").debug("payload of @bob:example.org: !position pour x")
        logging.getLogger("discord.gateway").debug("interaction payload 'argument secret'")
        logging.getLogger("bot.engine").debug("own debug line")
        logging.getLogger("discord.client").info("logging in using static token")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    text = buffer.getvalue()
    assert "own debug line" in text and "static token" in text
    assert "payload" not in text and "argument secret" not in text


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBATE_BOT_SECRET", raising=False)
