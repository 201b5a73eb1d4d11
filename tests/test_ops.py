"""Operator commands: restore (after a backup taken under load), migrate --check, invite-url."""

from __future__ import annotations

import asyncio
import io
import random
import sqlite3
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from config_support import UNSET_SECRET_ENV, base_config_data

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.backup import backup_database
from bot.config import Config, ConsoleConfig, DiscordConfig
from bot.db import MIGRATIONS, Database, InstanceLock, InstanceLockError, make_engine
from bot.ops import (
    application_id_from_token,
    cmd_invite_url,
    cmd_migrate,
    cmd_restore,
    pending_migrations,
)
from bot.platforms import AdapterContext

DEBATE = "capitalisme-numerique"
EARLY = 40  # members who answered well before the backup
LOAD_BATCH = 60  # concurrent submissions per wave of the load


def config_in(directory: Path, secret: Path | None = None) -> Config:
    """Console only, one manual debate, data in ``directory/data``; the secret file given."""
    anonymity: dict[str, Any] = {"min_group_size": 3, "secret_env": UNSET_SECRET_ENV}
    if secret is not None:
        anonymity["secret_file"] = str(secret)
    return Config.model_validate(
        {
            **base_config_data(directory / "data"),
            "anonymity": anonymity,
            "platforms": {"console": {"enabled": True, "channel": "general"}},
            "debates": [
                {
                    "id": DEBATE,
                    "title": "Le capitalisme numérique",
                    "pack": "progressive-alliance-2018",
                    "round_duration": "1h",
                    "channels": [{"platform": "console", "channel": "general"}],
                }
            ],
        }
    )


@pytest.fixture
async def start_app() -> AsyncIterator[Callable[[Config], Awaitable[App]]]:
    """Started Apps on the console adapter (output to a buffer); each stopped once."""
    running: list[App] = []

    async def start(config: Config) -> App:
        def console(context: AdapterContext[ConsoleConfig]) -> ConsoleAdapter:
            return ConsoleAdapter(
                context.settings, context.commands, context.export_dir, out=io.StringIO()
            )

        app = App(config, adapters={"console": console}, tick_seconds=3600)
        await app.start()
        running.append(app)
        return app

    yield start
    for app in running:
        if app._started:
            await app.stop()


def stored_positions(path: Path, round_id: int) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (count,) = conn.execute(
            "SELECT count(*) FROM position WHERE round_id = ?", (round_id,)
        ).fetchone()
    finally:
        conn.close()
    return int(count)


async def test_backup_under_load_restored_into_a_fresh_data_dir_serves_the_open_round(
    tmp_path: Path,
    start_app: Callable[[Config], Awaitable[App]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The secret lives outside both data directories, as the README advises.
    secret = tmp_path / "keys" / "server-secret"
    first = config_in(tmp_path / "first", secret)
    app = await start_app(first)
    await app.engine.open_round(DEBATE)
    (r,) = app.engine.open_rounds()
    rng = random.Random(7)
    early = {f"early-{i}": rng.choice(r.stances) for i in range(EARLY)}
    await asyncio.gather(
        *(app.engine.submit_position(r.id, "console", m, s) for m, s in early.items())
    )

    # Load: waves of concurrent submissions through the engine, while the backup is taken.
    acked: list[str] = []
    stop = asyncio.Event()
    progress = asyncio.Condition()

    async def member(name: str) -> None:
        await app.engine.submit_position(r.id, "console", name, r.stances[0])
        acked.append(name)
        async with progress:
            progress.notify_all()

    async def acknowledged(count: int) -> None:
        async with progress:
            await progress.wait_for(lambda: len(acked) >= count)

    async def load() -> int:
        wave = 0
        while not stop.is_set():
            await asyncio.gather(*(member(f"load-{wave}-{i}") for i in range(LOAD_BATCH)))
            wave += 1
        return wave

    loading = asyncio.create_task(load())
    await acknowledged(3 * LOAD_BATCH)
    before = list(acked)  # acknowledged before the backup began: must all be in it
    backup = tmp_path / "backups" / "debates.db"
    result = await asyncio.to_thread(backup_database, first.resolved_database_url(), backup)
    at_end = len(acked)
    await acknowledged(at_end + 2 * LOAD_BATCH)  # the bot kept serving the load
    stop.set()
    waves = await loading
    assert waves >= 5 and result.open_rounds == 1
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    in_backup = stored_positions(backup, r.id)
    assert EARLY + len(before) <= in_backup <= EARLY + at_end

    # Restoring over the running bot's own data is refused: its instance lock is held.
    assert cmd_restore(first, backup, force=True) == 1
    assert "already running" in capsys.readouterr().err
    await app.stop()

    # A fresh data directory, the same secret: restore, then the bot starts on it.
    second = config_in(tmp_path / "second", secret)
    assert cmd_restore(second, backup) == 0
    out = capsys.readouterr().out
    assert "1 open" in out
    restored = second.data_dir / "debates.db"
    assert stat.S_IMODE(restored.stat().st_mode) == 0o600
    app = await start_app(second)
    (again,) = app.engine.open_rounds()
    assert (again.id, again.code) == (r.id, r.code)
    # Members who answered before the backup are recognised, with their stance.
    for name in [*rng.sample(sorted(early), 10), *rng.sample(before, 10)]:
        mine = await app.engine.my_position(r.id, "console", name)
        assert mine.stance == early.get(name, r.stances[0]), name
    # An early member changing their answer is the same member, not a new one...
    changed = next(m for m, s in early.items() if s != r.stances[-1])
    await app.engine.submit_position(r.id, "console", changed, r.stances[-1])
    assert (await app.engine.my_position(r.id, "console", changed)).stance == r.stances[-1]
    # ...and a newcomer's answer is accepted and counted.
    await app.engine.submit_position(r.id, "console", "newcomer", r.stances[1], "Enfin là.")
    mine = await app.engine.my_position(r.id, "console", "newcomer")
    assert mine.stance == r.stances[1] and mine.arguments[0][1] == "Enfin là."
    (listed,) = [x for x in await app.engine.list_rounds() if x.id == r.id]
    assert listed.participants == in_backup + 1


async def test_restore_refusals(
    tmp_path: Path,
    start_app: Callable[[Config], Awaitable[App]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = config_in(tmp_path / "source")
    app = await start_app(source)
    await app.engine.open_round(DEBATE)
    await app.stop()
    backup = tmp_path / "backup.db"
    backup_database(source.resolved_database_url(), backup)

    # Open rounds but no server secret anywhere: refused, unless starting them over is asked.
    bare = config_in(tmp_path / "bare")
    assert cmd_restore(bare, backup) == 1
    assert "counted twice" in capsys.readouterr().err
    assert not (bare.data_dir / "debates.db").exists()
    assert cmd_restore(bare, backup, allow_new_secret=True) == 0
    assert "a new one is created at start" in capsys.readouterr().err

    # A database already there is never replaced silently.
    assert cmd_restore(source, backup) == 1
    assert "already holds a database" in capsys.readouterr().err
    assert cmd_restore(source, backup, force=True) == 0

    # Not a backup at all, or damaged.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert cmd_restore(config_in(tmp_path / "other"), junk) == 1
    assert "not a SQLite database" in capsys.readouterr().err
    assert cmd_restore(config_in(tmp_path / "other"), tmp_path / "missing.db") == 1

    # PostgreSQL is restored with pg_restore: the command says how, and does nothing.
    pg = source.model_copy(update={"database_url": "postgresql://bot@127.0.0.1:1/none"})
    assert cmd_restore(pg, backup) == 2
    assert "pg_restore" in capsys.readouterr().err


async def test_migrate_check_reports_pending_migrations_without_applying_them(
    tmp_path: Path,
    start_app: Callable[[Config], Awaitable[App]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = config_in(tmp_path)
    database = config.data_dir / "debates.db"
    heads = pending_migrations(()).heads
    everything = pending_migrations(()).pending
    assert len(everything) >= 2

    assert cmd_migrate(config, check=True) == 1
    assert "no database yet" in capsys.readouterr().out
    assert not database.exists()  # checking created nothing

    # A database left at the first revision, as an older version would leave it.
    database.parent.mkdir(parents=True)
    engine = make_engine(config.resolved_database_url())
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, everything[0][0])
    engine.dispose()
    assert cmd_migrate(config, check=True) == 1
    out = capsys.readouterr().out
    assert f"{len(everything) - 1} migration(s) pending" in out
    for revision, _ in everything[1:]:
        assert f"  {revision}  " in out
    assert cmd_migrate(config, check=True) == 1  # still pending: --check applied nothing

    # Applying refuses while another process holds the instance lock (a bot starting).
    db = Database(config.resolved_database_url())
    held = InstanceLock(db, config.data_dir)
    held.acquire()
    try:
        with pytest.raises(InstanceLockError):
            cmd_migrate(config)
    finally:
        held.release()
        db.close()
    assert cmd_migrate(config) == 0
    assert "applied" in capsys.readouterr().out
    assert cmd_migrate(config, check=True) == 0
    assert f"newest revision {', '.join(heads)}" in capsys.readouterr().out
    # The bot migrates at start by itself; a started bot leaves nothing pending.
    app = await start_app(config)
    assert cmd_migrate(config, check=True) == 0
    await app.stop()

    # A database migrated by a newer version: this one says so instead of guessing.
    with sqlite3.connect(database) as raw:
        raw.execute("UPDATE alembic_version SET version_num = 'ffff-from-the-future'")
    raw.close()
    assert cmd_migrate(config, check=True) == 1
    assert "migrated by a newer version" in capsys.readouterr().err


def test_invite_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_in(tmp_path)
    app_id = 1100000000000000001
    assert cmd_invite_url(config, app_id) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=1100000000000000001")
    assert "permissions=117760" in url and "scope=bot+applications.commands" in url

    # Without --application-id, the id carried by the bot token (never printed itself).
    token = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
    assert application_id_from_token(token) == app_id
    monkeypatch.setenv(config.platforms.of(DiscordConfig).token_env, token)
    assert cmd_invite_url(config) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == url and token not in captured.out + captured.err

    monkeypatch.delenv(config.platforms.of(DiscordConfig).token_env)
    assert cmd_invite_url(config) == 2
    assert "--application-id" in capsys.readouterr().err
    assert application_id_from_token("not-a-token") is None
    assert application_id_from_token("") is None
