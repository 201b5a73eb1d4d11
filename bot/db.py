"""Database access: engine factory, migrations, and the single writer thread.

SQLite is the embedded default (WAL, foreign keys on, ``synchronous=FULL`` so that an
acknowledged write survives a power cut); PostgreSQL is selected by URL. Every write goes
through one dedicated thread so SQLite never sees two writers, and the hot path commits many
concurrent submissions in one transaction (group commit, see :mod:`bot.writer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

from bot.files import private_dir, private_file

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_FILE = "debate-bot.lock"


def normalise_url(url: str) -> str:
    """Pick the drivers we ship: psycopg 3 for PostgreSQL."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm the same mode.
            private_file(Path(path))
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=4,
            max_overflow=4,
            # Error messages must not quote pseudonyms or member text into the logs.
            hide_parameters=True,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Deleted content is overwritten with zeros, not left in free space.
            cur.execute("PRAGMA secure_delete=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return sa.create_engine(
        url, pool_size=5, max_overflow=5, pool_pre_ping=True, hide_parameters=True
    )


# PostgreSQL advisory lock key held while migrating ("migr"), apart from the instance lock's.
MIGRATE_PG_KEY = 0x6D696772


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent).

    Processes that start together (the bot and ``debate-bot rounds`` beside it, say) migrate
    one after the other: the second finds the schema current. Without that, both would find no
    ``alembic_version`` table and the second would fail creating it.
    """
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _sqlite_migration_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_PG_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextlib.contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.migrate-lock`` (empty, 0600) while migrating."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class InstanceLockError(Exception):
    """Another bot process already runs with this data directory (or SQLite database)."""


class InstanceLock:
    """One bot process per data directory, and per database file on SQLite.

    The data directory holds the Matrix store and the exports: each process has its own. On
    SQLite the database file is locked too, so a second process on it is refused (SQLite has
    a single writer and no lease). Several processes on one PostgreSQL database are allowed:
    one of them leads (see :mod:`bot.leader`). The locks are released when the process exits,
    even on a crash.
    """

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir
        self._files: list[int] = []

    def acquire(self) -> None:
        """Lock the data directory and, on SQLite, the database file."""
        # SQLite: the database file itself is locked too (two configs may name one file from
        # two data directories).
        targets = [(self.data_dir / LOCK_FILE, f"with {self.data_dir}")]
        if self.db.dialect == "sqlite" and ":///" in self.db.url:
            path = Path(self.db.url.split(":///", 1)[1])
            if str(path) != ":memory:":
                targets.append((path, f"on the database {path}"))
        private_dir(self.data_dir)
        handles: list[int] = []
        for path, what in targets:
            handle = _lock(path)
            if handle is None:
                for held in handles:
                    os.close(held)
                raise InstanceLockError(f"another debate-bot process is already running {what}")
            handles.append(handle)
        self._files = handles
        # The data directory's lock file names the process holding it (``debate-bot reload``).
        os.ftruncate(handles[0], 0)
        os.pwrite(handles[0], f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        for handle in self._files:
            os.close(handle)
        self._files = []


def running_pid(data_dir: Path) -> int | None:
    """The pid of the bot running with ``data_dir``, or None if none is."""
    path = data_dir / LOCK_FILE
    if not path.exists():
        return None
    probe = _lock(path)
    if probe is not None:  # nobody holds it: no bot is running
        os.close(probe)
        return None
    text = path.read_text(encoding="ascii").strip()
    return int(text) if text.isdigit() else None


def _lock(path: Path) -> int | None:
    """An exclusive ``flock`` on ``path`` (created 0600 if missing), or None if it is held.

    ``flock`` locks are independent of the POSIX record locks SQLite itself takes on the file.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Database:
    """Owns the SQLAlchemy engine and the threads that talk to it.

    ``write`` runs a function on the single writer thread inside one transaction;
    ``read`` runs a function on a reader thread. Both are awaitable from the event loop, so
    blocking database work never runs on the loop thread.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="db-reader")
        self._closed = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        migrate(self.engine)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._in_transaction, fn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._in_connection, fn)

    async def on_writer(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the writer thread (it manages its own transactions)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, fn)

    def _in_transaction(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    def _in_connection(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        """For the CLI and tests outside an event loop."""
        return self._in_transaction(fn)

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        return self._in_connection(fn)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()
