"""Ways to make the database fail under a running bot, for the outage tests.

* :func:`read_only` — SQLite refuses every write (``PRAGMA query_only``, SQLite's own
  ``attempt to write a readonly database``), as on a read-only file or a full disk;
* :func:`stuck_writer` — the writer thread hangs, as it does on a paused PostgreSQL server;
* :func:`pg_outage` — a real outage of one PostgreSQL database on the shared server: it stops
  accepting connections and its sessions are terminated (the server itself keeps running).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import sqlalchemy as sa

from bot.db import Database

# The same server as tests/conftest.py's databases (not imported from there: every test
# directory has a conftest module of its own).
PG_ADMIN_URL = os.environ.get(
    "DEBATE_BOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def read_only(db: Database) -> Iterator[None]:
    """Every new SQLite connection refuses writes until the block ends."""
    assert db.dialect == "sqlite"
    failing = True

    def refuse_writes(dbapi_conn: Any, _record: Any) -> None:
        if failing:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

    sa.event.listen(db.engine, "connect", refuse_writes)
    db.engine.dispose()  # pooled connections were opened writable
    try:
        yield
    finally:
        failing = False
        sa.event.remove(db.engine, "connect", refuse_writes)
        db.engine.dispose()


@asynccontextmanager
async def stuck_writer(db: Database) -> AsyncIterator[None]:
    """The single writer thread blocks (every write waits) until the block ends."""
    release = threading.Event()
    blocked = asyncio.ensure_future(db.on_writer(release.wait))
    try:
        yield
    finally:
        release.set()
        await blocked


def _admin() -> str:
    return PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")


@contextmanager
def pg_outage(url: str) -> Iterator[None]:
    """The database at ``url`` accepts no connection and loses its sessions, then comes back."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_admin(), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    try:
        yield
    finally:
        with psycopg.connect(_admin(), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
