"""The anonymity invariant: no platform identifier is stored, exported or logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.anonymity import load_or_create_secret, pseudonym
from bot.models import table

USERS = [f"zq-user-{i}-7f3a9c" for i in range(6)]


async def test_no_identifier_in_database_exports_or_logs(
    db_url: str, config_factory: Any, app_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = config_factory(database_url=db_url, platforms={"console": {"moderators": [USERS[0]]}})
    app, _ = await app_factory(config)
    console = app.adapters["console"]
    await console.feed(f"@{USERS[0]} !debat ouvrir capitalisme-numerique")
    round_id = app.engine.open_rounds()[0].id
    stances = app.engine.open_rounds()[0].stances
    for i, user in enumerate(USERS):
        await console.feed(f"@{user} dm !position {stances[i % 2]} Argument numéro {i}.")
    for user in USERS:
        await console.feed(f"@{user} dm !voter")
        for _ in range(len(USERS)):
            await console.feed(f"@{user} dm 1")

    # While the round is open the engine can tell who is who (that is how it dedupes)...
    open_name = app.engine.pseudonym_for(round_id, "console", USERS[1])
    assert open_name is not None
    await console.feed(f"@{USERS[0]} !debat fermer")
    # ...after close it cannot: the salt is gone from memory and from the database, and the
    # stored pseudonyms were replaced by random tokens that nothing can recompute.
    assert app.engine.pseudonym_for(round_id, "console", USERS[1]) is None
    salts = app.db.read_sync(
        lambda conn: list(conn.execute(sa.select(table("round_salt").c.salt)).scalars())
    )
    assert salts == []
    stored = app.db.read_sync(
        lambda conn: set(conn.execute(sa.select(table("position").c.participant)).scalars())
    )
    assert len(stored) == len(USERS)
    assert open_name not in stored
    secret = load_or_create_secret(config.data_dir, None)
    assert all(pseudonym(secret, b"", "console", u) not in stored for u in USERS)

    exports = [await app.engine.export(round_id, fmt) for fmt in ("md", "csv", "json", "html")]
    haystacks: list[tuple[str, bytes]] = [(a.filename, a.data) for a in exports]
    haystacks.append(("log", caplog.text.encode()))
    if db_url.startswith("sqlite"):
        await app.stop()
        db_dir = Path(db_url.split(":///", 1)[1]).parent
        haystacks += [(p.name, p.read_bytes()) for p in db_dir.iterdir() if p.is_file()]
    else:
        dump = []
        with app.db.engine.connect() as conn:
            for name in ("round", "position", "argument", "vote", "round_summary", "outbox"):
                dump += [repr(tuple(row)) for row in conn.execute(sa.select(table(name)))]
        haystacks.append(("postgresql rows", "\n".join(dump).encode()))
    for where, data in haystacks:
        for user in USERS:
            assert user.encode() not in data, f"{user} found in {where}"
    assert b"Argument num" in b"".join(d for _, d in haystacks)  # the search does see content


def test_secret_file_is_private(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path, None)
    path = tmp_path / "server-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(tmp_path, None) == secret
    path.chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        load_or_create_secret(tmp_path, None)
    assert load_or_create_secret(tmp_path, "x" * 20) == b"x" * 20


def test_pseudonyms_differ_per_round_and_platform() -> None:
    secret = b"s" * 32
    a = pseudonym(secret, b"salt-1", "discord", "42")
    assert a == pseudonym(secret, b"salt-1", "discord", "42")
    assert a != pseudonym(secret, b"salt-2", "discord", "42")
    assert a != pseudonym(secret, b"salt-1", "matrix", "42")
