"""Erasure and order, checked as a hostile operator would: by searching the bytes on disk.

After a round closes nobody, the operator included, may be able to tell which stored row
belongs to which account. These tests take what an attacker would have (every file under
``data_dir``, PostgreSQL's relation files, the server secret) and search it for the round's
salt and for the pseudonyms the members had while the round was open. Each search has a
positive control that finds the same bytes while the round is open, so it can fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from config_support import write_config_file

from bot.anonymity import load_or_create_secret, pseudonym
from bot.engine import utcnow
from bot.models import table

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = [f"member{i:02d}" for i in range(8)]


def files_under(root: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes()


def where_found(root: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """For each needle, the files under ``root`` that contain it."""
    found: dict[str, list[str]] = {name: [] for name in needles}
    for path, data in files_under(root):
        for name, needle in needles.items():
            if needle in data:
                found[name].append(str(path.relative_to(root)))
    return {name: paths for name, paths in found.items() if paths}


async def _play_round(app: Any, members: list[str], withdrawn: str) -> dict[str, bytes]:
    """Open a round, let members answer, vote and withdraw; return what identifies them."""
    console = app.adapters["console"]
    await console.feed("@alice !debat ouvrir capitalisme-numerique")
    r = app.engine.open_rounds()[0]
    for i, user in enumerate(members):
        await console.feed(f"@{user} dm !position {r.stances[i % 2]} Argument secret {user}.")
    for user in members:
        await console.feed(f"@{user} dm !voter")
        for _ in range(3):
            await console.feed(f"@{user} dm 1")
    needles = {"salt": r.salt}
    for user in members:
        name = app.engine.pseudonym_for(r.id, "console", user)
        needles[f"pseudonym of {user}"] = name.encode("ascii")
    await console.feed(f"@{withdrawn} dm !retirer")
    needles["withdrawn argument"] = f"Argument secret {withdrawn}.".encode()
    return needles


async def test_sqlite_salt_and_pseudonyms_leave_every_file_at_close(
    config_factory: Any, app_factory: Any
) -> None:
    config = config_factory()
    app, _ = await app_factory(config)
    needles = await _play_round(app, MEMBERS, withdrawn=MEMBERS[-1])
    live = {k: v for k, v in needles.items() if k != "withdrawn argument" and MEMBERS[-1] not in k}
    # Positive control: while the round is open, its salt and pseudonyms are on disk.
    assert set(where_found(config.data_dir, live)) == set(live)
    # A withdrawal is erased at once (secure_delete), not left in free space.
    withdrawn = {k: v for k, v in needles.items() if k not in live}
    await app.adapters["console"].feed("@alice !debat fermer")

    # While the bot keeps running, right after the close is acknowledged:
    assert where_found(config.data_dir, needles) == {}
    assert withdrawn  # the withdrawn member's rows are among the needles searched
    # Re-keying keeps the summary whole: everyone who stayed is counted.
    rounds = await app.engine.list_rounds()
    summary = await app.engine.summary(rounds[0].id)
    assert summary is not None and summary["positions"] == len(MEMBERS) - 1
    await app.stop()
    assert where_found(config.data_dir, needles) == {}


async def test_sqlite_purge_leaves_no_text_or_token(config_factory: Any, app_factory: Any) -> None:
    config = config_factory()
    app, _ = await app_factory(config)
    await _play_round(app, MEMBERS[:4], withdrawn=MEMBERS[0])
    await app.adapters["console"].feed("@alice !debat fermer")
    tokens = app.db.read_sync(
        lambda conn: set(conn.execute(sa.select(table("position").c.participant)).scalars())
    )
    needles = {f"token {t}": t.encode() for t in tokens}
    needles["argument text"] = b"Argument secret"
    assert set(where_found(config.data_dir, needles)) == set(needles)  # positive control
    app.engine.clock = lambda: utcnow() + timedelta(days=3)
    assert await app.engine.purge(timedelta(days=1)) == 1
    assert where_found(config.data_dir, needles) == {}


# ---------------------------------------------------------------------------------- kill -9


class _Bot:
    """``debate-bot run`` as a real process, fed on stdin, its stdout read line by line."""

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
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def send(self, line: str, expect: str, timeout: float = 60) -> None:
        seen = len(self.lines)
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(expect in x for x in self.lines[seen:]):
                return
            time.sleep(0.02)
        raise AssertionError(f"no {expect!r} after {line!r}: {self.lines[seen:]}")


def test_sqlite_kill_9_right_after_the_close_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_config_file(tmp_path)
    bot = _Bot(config)
    try:
        bot.send("@alice !debat ouvrir capitalisme-numerique", "[dm:alice] Tour")
        for user in MEMBERS:
            bot.send(
                f"@{user} dm !position abstention Argument secret {user}.", f"[dm:{user}] Position"
            )
        with sqlite3.connect(f"file:{data / 'debates.db'}?mode=ro", uri=True) as conn:
            ((salt,),) = conn.execute("SELECT salt FROM round_salt").fetchall()
        conn.close()
        secret = load_or_create_secret(data, None)
        needles = {"salt": bytes(salt)}
        for user in MEMBERS:
            needles[user] = pseudonym(secret, bytes(salt), "console", user).encode()
        assert set(where_found(data, needles)) == set(needles)  # positive control
        bot.send("@alice !debat fermer", "[dm:alice] Tour")
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(timeout=30)
        assert where_found(data, needles) == {}
    finally:
        if bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait(timeout=30)
        for stream in (bot.proc.stdin, bot.proc.stdout):
            if stream is not None:
                stream.close()


# ---------------------------------------------------------------------------------- PostgreSQL


def _database_files(admin: Any) -> dict[str, bytes]:
    """Every relation file of the current database (by relation), read by the server itself."""
    admin.execute("CHECKPOINT")
    (oid,) = admin.execute(
        "SELECT oid FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    names = dict(
        admin.execute(
            "SELECT pg_relation_filenode(oid)::text, relname FROM pg_class "
            "WHERE pg_relation_filenode(oid) IS NOT NULL"
        ).fetchall()
    )
    files = {}
    for (name,) in admin.execute(f"SELECT pg_ls_dir('base/{oid}')").fetchall():
        if name[0].isdigit():
            (data,) = admin.execute(
                "SELECT pg_read_binary_file(%s)", (f"base/{oid}/{name}",)
            ).fetchone()
            node = name.split("_")[0].split(".")[0]
            files[f"{names.get(node, '?')} ({name})"] = bytes(data)
    return files


async def test_postgresql_relation_files_keep_no_salt_after_close(
    pg_url: str, config_factory: Any, app_factory: Any
) -> None:
    import psycopg

    config = config_factory(database_url=pg_url)
    app, _ = await app_factory(config)
    needles = await _play_round(app, MEMBERS, withdrawn=MEMBERS[-1])
    live = {k: v for k, v in needles.items() if k != "withdrawn argument" and MEMBERS[-1] not in k}
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as admin:
        # Statistics would keep sampled pseudonyms in pg_statistic: the columns have none.
        admin.execute("ANALYZE")
        files = _database_files(admin)
        every = b"".join(files.values())
        assert all(needle in every for needle in live.values())  # positive control
        # What is checked is the state once the close is acknowledged: on a loaded machine
        # the close (with its VACUUM FULL) can outlast the usual 5 s answer budget, and an
        # "unconfirmed" answer would leave it running while the files are read.
        app.engine.budget.write = app.engine.budget.after_checkpoint = 300.0
        code = app.engine.open_rounds()[0].code
        (reply,) = await app.adapters["console"].feed("@alice !debat fermer")
        assert reply.text == app.engine.messages("round_closing", code=code)
        files = _database_files(admin)
    left = {
        name: [where for where, data in files.items() if needle in data]
        for name, needle in needles.items()
    }
    assert {name: where for name, where in left.items() if where} == {}


# ---------------------------------------------------------------------------------- order


def _spearman(order: list[int]) -> float:
    """Rank correlation between position in ``order`` and the values (a permutation)."""
    n = len(order)
    ranks = {v: i for i, v in enumerate(sorted(order))}
    d2 = sum((i - ranks[v]) ** 2 for i, v in enumerate(order))
    return 1 - 6 * d2 / (n * (n * n - 1))


async def test_stored_rows_carry_no_submission_order(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    members = [f"voter{i:02d}" for i in range(60)]
    config = config_factory(database_url=db_url, limits={"actions_per_minute": 1000})
    app, _ = await app_factory(config)
    console = app.adapters["console"]
    await console.feed("@alice !debat ouvrir capitalisme-numerique")
    r = app.engine.open_rounds()[0]
    for i, user in enumerate(members):  # answers arrive in a known order
        await console.feed(f"@{user} dm !position {r.stances[i % 3]} argument-{i:02d}")
    for user in members:
        await console.feed(f"@{user} dm !voter")
        await console.feed(f"@{user} dm 1")
    open_names = {app.engine.pseudonym_for(r.id, "console", u) for u in members}
    await console.feed("@alice !debat fermer")

    physical = "ctid" if app.db.dialect == "postgresql" else "rowid"

    def read(conn: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for name, who in (("position", "participant"), ("argument", "author"), ("vote", "voter")):
            rows = conn.exec_driver_sql(
                f"SELECT id, {who}, {physical} FROM {name} WHERE round_id = {r.id}"
            ).all()
            out[name] = rows
        out["texts"] = conn.exec_driver_sql(
            f"SELECT author, text FROM argument WHERE round_id = {r.id}"
        ).all()
        if physical == "ctid":
            out["xmin"] = conn.exec_driver_sql(
                f"SELECT DISTINCT xmin::text FROM position WHERE round_id = {r.id}"
            ).all()
        return out

    stored = app.db.read_sync(read)
    who_is = {author: int(text.split("-")[1]) for author, text in stored["texts"]}
    assert len(who_is) == len(members)
    assert not open_names & set(who_is)  # re-keyed: no pre-close pseudonym is left
    for name in ("position", "argument", "vote"):
        rows = stored[name]
        assert len(rows) >= len(members) * (1 if name != "vote" else 0.9)
        by_id = [who_is[row[1]] for row in sorted(rows, key=lambda x: x[0])]
        if physical == "ctid":
            by_place = [who_is[row[1]] for row in sorted(rows, key=lambda x: _ctid(x[2]))]
        else:
            by_place = [who_is[row[1]] for row in sorted(rows, key=lambda x: x[2])]
        for label, order in (("id", by_id), ("physical order", by_place)):
            # Deduplicate voters (a voter appears once per vote) keeping first appearances.
            seen = list(dict.fromkeys(order))
            rho = _spearman(seen)
            assert abs(rho) < 0.6, f"{name} {label} follows submission order (rho={rho:.2f})"
    if physical == "ctid":
        assert len(stored["xmin"]) == 1  # one transaction wrote them all: no order in xmin


def _ctid(text: str) -> tuple[int, int]:
    page, item = text.strip("()").split(",")
    return int(page), int(item)


# ---------------------------------------------------------------------------------- quota


async def test_argument_quota_holds_under_concurrency(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = config_factory(database_url=db_url, limits={"arguments_per_participant": 3})
    app, _ = await app_factory(config)
    console = app.adapters["console"]
    await console.feed("@alice !debat ouvrir capitalisme-numerique")
    r = app.engine.open_rounds()[0]
    replies = await asyncio.gather(
        *(console.feed(f"@bob dm !position {r.stances[0]} argument {i}") for i in range(6))
    )
    stored = app.db.read_sync(
        lambda conn: conn.execute(
            sa.select(sa.func.count()).select_from(table("argument"))
        ).scalar_one()
    )
    assert stored == 3
    refused = [x for reply in replies for x in reply if "déjà donné 3 arguments" in x.text]
    assert refused, replies


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBATE_BOT_SECRET", raising=False)


async def test_nothing_is_written_into_a_round_after_its_rekeying(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    from bot.engine import EngineError

    config = config_factory(database_url=db_url)
    app, _ = await app_factory(config)
    info = await app.engine.open_round("capitalisme-numerique")
    r = app.engine.open_round_by_id(info.id)
    assert r is not None
    name = app.engine.pseudonym_for(r.id, "console", "bob")
    assert name is not None
    # A write that passed its checks before the close and lands in the same group commit,
    # after the close's re-keying: the writer is kept busy while both queue up behind it.
    writer = app.engine.writer
    busy = asyncio.create_task(writer.call(lambda conn: time.sleep(0.3)))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(app.engine.close_round(r.id))
    for _ in range(2000):  # until the close's write is queued (behind the busy one)
        if any(getattr(op, "ends_rounds", False) for op, _ in writer._pending):
            break
        await asyncio.sleep(0.001)
    late_insert = asyncio.create_task(app.engine._insert_argument(r, name, "un argument tardif"))
    await busy
    closed: bool | BaseException
    late: object
    closed, late = await asyncio.gather(closing, late_insert, return_exceptions=True)
    assert closed is True
    assert isinstance(late, EngineError) and late.key == "round_closed"
    authors = app.db.read_sync(
        lambda conn: set(conn.execute(sa.select(table("argument").c.author)).scalars())
    )
    assert name not in authors
