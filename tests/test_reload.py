"""Config edits reach the rounds not yet open: at start, on SIGHUP, with ``debate-bot reload``."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from config_support import write_config_file

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.config import ConsoleConfig, load_config
from bot.events import PostKind
from bot.models import RoundState
from bot.platforms import AdapterContext

ROOT = Path(__file__).resolve().parents[1]
MONDAY = "{cron: '0 18 * * 1'}"
TUESDAY = "{cron: '0 18 * * 2'}"


def build(path: Path) -> App:
    config = load_config(path)

    def console(context: AdapterContext[ConsoleConfig]) -> ConsoleAdapter:
        return ConsoleAdapter(
            context.settings, context.commands, context.export_dir, io.StringIO()
        )

    return App(config, adapters={"console": console}, tick_seconds=3600)


async def scheduled(app: App) -> list[Any]:
    return [r for r in await app.engine.list_rounds() if r.state == RoundState.SCHEDULED]


async def test_a_reload_moves_the_scheduled_round_and_a_bad_edit_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config_file(tmp_path, schedule=MONDAY)
    app = build(path)
    await app.start()
    try:
        (before,) = await scheduled(app)
        assert before.opens_at.weekday() == 0  # 18:00 Paris on a Monday (17:00 UTC)

        write_config_file(
            tmp_path, schedule=TUESDAY, debate_extra="    reminder_before_close: 2h\n"
        )
        path.write_text(path.read_text().replace("round_duration: 1h", "round_duration: 3d"))
        caplog.set_level(logging.INFO)
        assert await app.reload(path)
        (after,) = await scheduled(app)
        assert after.id == before.id and after.opens_at.weekday() == 1
        assert after.closes_at - after.opens_at == timedelta(days=3)
        assert any("updated: opens" in r.getMessage() for r in caplog.records)

        good = path.read_text()
        path.write_text(good.replace("round_duration: 3d", "round_duration: soon"))
        caplog.clear()
        assert not await app.reload(path)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("round_duration" in e for e in errors), errors
        assert [r.opens_at for r in await scheduled(app)] == [after.opens_at]
        assert (await scheduled(app))[0].closes_at == after.closes_at
    finally:
        await app.stop()


async def test_edits_made_while_stopped_apply_at_start(tmp_path: Path) -> None:
    path = write_config_file(tmp_path, schedule=MONDAY)
    app = build(path)
    await app.start()
    (before,) = await scheduled(app)
    await app.stop()

    write_config_file(tmp_path, schedule=TUESDAY)
    app = build(path)
    await app.start()
    try:
        rounds = await scheduled(app)
        assert [r.id for r in rounds] == [before.id]  # moved, not duplicated
        assert rounds[0].opens_at.weekday() == 1
    finally:
        await app.stop()


async def test_a_removed_debate_is_cancelled_and_never_announced_with_raw_ids(
    tmp_path: Path,
) -> None:
    path = write_config_file(tmp_path, schedule=MONDAY)
    app = build(path)
    await app.start()
    try:
        console = app.adapters["console"]
        assert isinstance(console, ConsoleAdapter)
        await console.feed("@alice !debat ouvrir capitalisme-numerique")
        (opened,) = app.engine.open_rounds()
        (pending,) = await scheduled(app)
        # The operator replaces the debate by another one.
        path.write_text(
            path.read_text()
            .replace("id: capitalisme-numerique", "id: ecran")
            .replace("pack: progressive-alliance-2018", "pack: ecran-total")
        )
        assert await app.reload(path)
        info = await app.engine.round_info(pending.id)
        assert info is not None and info.state == RoundState.SKIPPED
        # The open round keeps its terms and its texts to the end.
        await app.engine.close_round(opened.id)
        summary = await app.engine.summary(opened.id)
        assert summary is not None
        assert summary["round"]["debate_title"] == "Le capitalisme numérique"
        assert summary["round"]["question"] != summary["round"]["question_id"]
        post = await app.engine.build_post(opened.id, PostKind.SUMMARY)
        assert post is not None and "capitalisme-numerique" not in post.text
    finally:
        await app.stop()


def test_sighup_through_debate_bot_reload_moves_the_round_of_a_running_bot(
    tmp_path: Path,
) -> None:
    path = write_config_file(tmp_path, schedule=MONDAY)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )

    def rounds() -> list[dict[str, Any]]:
        listed = subprocess.run(
            [sys.executable, "-m", "bot", "rounds", "--config", str(path), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        # `rounds` must work beside a running bot: a failure is a failure, not "no round yet".
        assert listed.returncode == 0, listed.stderr
        return list(json.loads(listed.stdout)) if listed.stdout.strip() else []

    def reload() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "reload", "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )

    try:
        # The bot schedules its first round once started (slow on a loaded machine).
        deadline = time.monotonic() + 180
        listed = rounds()
        while not listed and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            listed = rounds()
        assert len(listed) == 1, (listed, proc.poll())
        (before,) = listed
        write_config_file(tmp_path, schedule=TUESDAY)
        result = reload()
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and rounds()[0]["opens_at"] == before["opens_at"]:
            time.sleep(0.2)
        (after,) = rounds()
        assert after["id"] == before["id"] and after["opens_at"] != before["opens_at"]
        # An invalid edit: `reload` shows the errors and signals nothing; a SIGHUP sent
        # anyway leaves the running bot serving with what it had.
        valid = path.read_text()
        path.write_text(valid.replace("pack: progressive", "pack: nonexistent"))
        refused = reload()
        assert refused.returncode == 2 and "nonexistent" in refused.stderr
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert proc.poll() is None
        path.write_text(valid)  # (so that `rounds` can read the database again)
        assert rounds() == [after]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "is invalid; the running configuration stays" in err
    assert "nonexistent" in err


def test_reload_without_a_running_bot_says_so(tmp_path: Path) -> None:
    path = write_config_file(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "reload", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1 and "no debate-bot is running" in result.stderr
