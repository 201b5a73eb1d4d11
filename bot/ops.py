"""Operator commands: ``invite-url``, ``migrate [--check]`` and ``restore``.

Each ``cmd_*`` function prints what it did (or why it refused) and returns the process exit
code, as the other subcommands of :mod:`bot.cli` do. See docs/operating.md.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError

from bot.backup import sqlite_path
from bot.config import Config, DiscordConfig
from bot.db import MIGRATIONS, Database, InstanceLock, InstanceLockError, make_engine
from bot.files import FILE_MODE, private_dir

log = logging.getLogger(__name__)

# The exit codes of bot.cli (repeated so that bot.cli may import this module at its top).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


# ---------------------------------------------------------------------------------- invite-url


def application_id_from_token(token: str) -> int | None:
    """The bot user's id carried by a Discord bot token (its first, base64 part).

    For a bot made in the developer portal that id is the application id, which the invite
    link needs; it is not secret (it is in every link to the bot).
    """
    head = token.strip().split(".", 1)[0]
    if not head:
        return None
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(decoded) if decoded.isdigit() and 15 <= len(decoded) <= 21 else None


def cmd_invite_url(config: Config, application_id: int | None = None) -> int:
    """Print the link that adds the bot to a Discord server, with its scopes and permissions.

    The application id comes from ``--application-id``, else from the bot token in the
    environment variable ``platforms.discord.token_env`` (the token itself is never printed).
    """
    source = "--application-id"
    if application_id is None:
        token_env = config.platforms.of(DiscordConfig).token_env
        application_id = application_id_from_token(os.environ.get(token_env, ""))
        source = f"the bot token in {token_env}"
        if application_id is None:
            print(
                "error: no application id: pass --application-id ID (developer portal → your "
                f"application → General Information → Application ID), or set {token_env} "
                "to the bot's token (platforms.discord.token_env)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if application_id <= 0:
        print("error: --application-id must be a positive number", file=sys.stderr)
        return EXIT_USAGE
    from bot.adapters.discord import invite_url  # imports discord.py: only when asked

    print(invite_url(application_id))
    print(
        f"(application {application_id}, from {source}; scopes bot and applications.commands; "
        "permissions View Channels, Send Messages, Embed Links, Attach Files, Read Message "
        "History)",
        file=sys.stderr,
    )
    return EXIT_OK


# ---------------------------------------------------------------------------------- migrate


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database stands against the migrations this version carries."""

    current: tuple[str, ...]  # empty: no schema yet
    heads: tuple[str, ...]
    pending: tuple[tuple[str, str], ...]  # (revision, first line of its description), oldest first
    unknown: bool = False  # the database is at a revision this version does not know

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.unknown and bool(self.current)


def _script() -> ScriptDirectory:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def pending_migrations(current: tuple[str, ...]) -> MigrationStatus:
    """What would run to bring a database at ``current`` to the newest revision."""
    script = _script()
    heads = tuple(script.get_heads())
    try:
        revisions = list(script.iterate_revisions(heads, current or "base"))
    except (CommandError, RevisionError):
        return MigrationStatus(current, heads, (), unknown=True)
    pending = tuple(
        (rev.revision, (rev.doc or "").strip().splitlines()[0] if rev.doc else "")
        for rev in reversed(revisions)
    )
    return MigrationStatus(current, heads, pending)


def _current_revisions(url: str) -> tuple[str, ...] | None:
    """The database's alembic revisions; None when a SQLite file does not exist yet.

    A SQLite file is opened read-only, so checking never creates or changes anything.
    """
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if not path.exists():
            return None
        engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    else:
        engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def cmd_migrate(config: Config, *, check: bool = False) -> int:
    """``migrate --check``: report pending migrations, exit 0 up to date, 1 pending.

    Without ``--check`` the pending migrations are applied (as the bot does at every start),
    under the instance lock: never while a bot runs on this database.
    """
    url = config.resolved_database_url()
    try:
        current = _current_revisions(url)
    except sa.exc.SQLAlchemyError as exc:
        print(f"error: the database does not answer ({type(exc).__name__})", file=sys.stderr)
        return EXIT_ERROR
    status = pending_migrations(current or ())
    heads = ", ".join(status.heads)
    if status.unknown:
        print(
            f"error: the database is at revision {', '.join(status.current)}, which this "
            f"version of debate-bot does not know (its newest is {heads}): it was migrated by "
            "a newer version. Run that version, or restore a backup taken before the upgrade.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    where = "no database yet" if current is None else f"at {', '.join(current) or 'no schema'}"
    if not status.pending:
        print(f"database up to date ({where}, newest revision {heads})")
        return EXIT_OK
    print(f"database {where}; {len(status.pending)} migration(s) pending:")
    for revision, doc in status.pending:
        print(f"  {revision}  {doc}")
    if check:
        print("they run at the next start (or now with `debate-bot migrate`)")
        return EXIT_ERROR
    db = Database(url)
    lock = InstanceLock(db, config.data_dir)
    try:
        private_dir(config.data_dir)
        lock.acquire()
        try:
            db.migrate()
        finally:
            lock.release()
    finally:
        db.close()
    print(f"applied; the database is at {heads}")
    return EXIT_OK


# ---------------------------------------------------------------------------------- restore


@dataclass(frozen=True)
class BackupInfo:
    revision: tuple[str, ...]
    rounds: int
    open_rounds: int


def inspect_backup(path: Path) -> BackupInfo:
    """Check that ``path`` is a whole debate-bot SQLite database; ValueError if not."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: cannot be opened ({exc})") from None
    try:
        (verdict,) = conn.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise ValueError(f"{path}: the database is damaged ({verdict})")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if not {"alembic_version", "round"} <= tables:
            raise ValueError(f"{path}: not a debate-bot database")
        revision = tuple(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
        (rounds,) = conn.execute("SELECT count(*) FROM round").fetchone()
        (open_rounds,) = conn.execute("SELECT count(*) FROM round WHERE state = 'open'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path}: not a SQLite database ({exc})") from None
    finally:
        conn.close()
    return BackupInfo(revision, int(rounds), int(open_rounds))


def _holds_data(path: Path) -> bool:
    """Whether a database file (or the WAL beside it) holds anything."""
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return True
    if not path.exists() or path.stat().st_size == 0:
        return False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (count,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        return True  # not even readable: never overwritten without --force
    finally:
        conn.close()
    return int(count) > 0


def _copy(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` with SQLite's backup API, atomically, mode 0600."""
    tmp = target.with_name(target.name + ".restoring")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # a standalone file, no WAL
            finally:
                dst.close()
        finally:
            src.close()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        # A WAL left beside the old file would be replayed into the restored one.
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def cmd_restore(
    config: Config, source: Path, *, force: bool = False, allow_new_secret: bool = False
) -> int:
    """Copy a backup (``debate-bot backup``) into this config's database, then it can start.

    Refused while a bot runs on this data directory or database (the instance lock), when the
    database already holds data (unless ``force``), when the backup is damaged or was made by
    a newer version, and when the backup holds open rounds but the server secret is missing
    (unless ``allow_new_secret``): the members of those rounds would be counted again.
    """
    url = config.resolved_database_url()
    if not url.startswith("sqlite"):
        print(
            "This database is PostgreSQL: restore a pg_dump with PostgreSQL's own tools, the "
            "bot stopped, into an empty database, e.g.\n"
            f"  pg_restore --no-owner --dbname '{url}' {source}\n"
            "then start the bot (its migrations run at start).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        info = inspect_backup(source)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    status = pending_migrations(info.revision)
    has_secret = config.secret() is not None or config.secret_path().exists()
    refusal = _restore_refusal(config, source, info, status, has_secret, allow_new_secret)
    target = sqlite_path(url)
    if refusal is None:
        refusal = _restore_into(config, url, source, target, force=force)
    if refusal is not None:
        print(f"error: {refusal}", file=sys.stderr)
        return EXIT_ERROR
    log.info("restored a backup into %s", target)
    print(
        f"restored {source} into {target}: {info.rounds} round(s), {info.open_rounds} open, "
        f"schema {', '.join(info.revision)}"
        + (f" ({len(status.pending)} migration(s) run at start)" if status.pending else "")
    )
    if info.open_rounds and not has_secret:
        print(
            "warning: no server secret was found: a new one is created at start, and the "
            "members of the open rounds are counted as new",
            file=sys.stderr,
        )
    print(
        "The Matrix store (data_dir/matrix) is not in backups: without it the bot logs in as "
        "a new device. Start the bot: debate-bot run",
        file=sys.stderr,
    )
    return EXIT_OK


def _restore_refusal(
    config: Config,
    source: Path,
    info: BackupInfo,
    status: MigrationStatus,
    has_secret: bool,
    allow_new_secret: bool,
) -> str | None:
    """Why this backup must not be restored here (before anything is touched), or None."""
    if status.unknown:
        return (
            f"{source} is at revision {', '.join(info.revision)}, unknown to this "
            "version of debate-bot: it was made by a newer version"
        )
    if info.open_rounds and not has_secret and not allow_new_secret:
        return (
            f"the backup holds {info.open_rounds} open round(s), and the server secret "
            f"is neither in ${config.anonymity.secret_env} nor in {config.secret_path()}. "
            "Without the deployment's secret the members of those rounds are not recognised "
            "and would be counted twice: restore the secret first (or pass "
            "--allow-new-secret to start them over with a new one)"
        )
    return None


def _restore_into(
    config: Config, url: str, source: Path, target: Path, *, force: bool
) -> str | None:
    """Copy ``source`` over ``target`` under the instance lock; why not, or None once done."""
    private_dir(config.data_dir)
    private_dir(target.parent)
    db = Database(url)
    lock = InstanceLock(db, config.data_dir)
    try:
        try:
            lock.acquire()
        except InstanceLockError as exc:
            return f"{exc}; stop it before restoring"
        try:
            if _holds_data(target) and not force:
                return (
                    f"{target} already holds a database; restore into a fresh "
                    "data_dir, or pass --force to replace it"
                )
            _copy(source, target)
        finally:
            lock.release()
    finally:
        db.close()
    return None
