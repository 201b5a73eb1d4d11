"""Erasure that holds up to a look at the bytes on disk, and rows that carry no order.

Deleting a row, or setting a column to NULL, removes it from query results, not from the
files: SQLite keeps the old page images in ``<db>-wal`` until a checkpoint and the deleted
cells in free space unless ``secure_delete`` is on; PostgreSQL keeps the old tuple versions in
the heap (a plain ``VACUUM`` marks the space free without wiping it) and in ``pg_wal``. So:

* **Re-keying at close** (:func:`rekey_round`, inside the closing transaction): every pseudonym
  of the round is replaced by a fresh random token (one per participant, so the summary is
  unchanged), every row gets a new random id, and the rows are written back in random order.
  A salt or secret recovered later from a backup, a WAL segment or a dead tuple then matches
  nothing in the live tables, and neither ids nor physical order follow submission order.
* **Scrubbing after the commit** (:func:`scrub_storage`): on SQLite (``secure_delete=ON`` is set
  on every connection, see :mod:`bot.db`) a ``wal_checkpoint(TRUNCATE)`` copies the zeroed
  pages back into the main file and empties the WAL; on PostgreSQL a ``VACUUM FULL`` rewrites
  the tables that held the salt and the pseudonyms into new files and unlinks the old ones.
  What PostgreSQL keeps elsewhere (``pg_wal`` until segments are recycled, base backups, WAL
  archives) is beyond the bot's reach; the README says what an operator should configure.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.models import CARRIED_OVER, random_id, table

log = logging.getLogger(__name__)

# Tables whose rows (or dead versions of them) can hold a salt, a pseudonym or member text.
SENSITIVE_TABLES = (
    "round_salt",
    "position",
    "argument",
    "vote",
    "pending_vote",
    "moderation_queue",
    "moderation_batch",
    "round_summary",
    "round",
)
CHECKPOINT_ATTEMPTS = 100
CHECKPOINT_PAUSE = 0.05
PG_LOCK_TIMEOUT = "30s"


def new_token() -> str:
    """A participant's name in a closed round: random, linked to nothing."""
    return secrets.token_hex(16)


def rekey_round(conn: Connection, round_id: int, *, rename: bool) -> int:
    """Rewrite the round's positions, arguments and votes with random ids in random order.

    With ``rename`` every pseudonym is also replaced by a fresh random token, the same for all
    rows of one participant. Returns the number of participants renamed.
    """
    p, a, v = table("position"), table("argument"), table("vote")
    positions = [
        dict(x) for x in conn.execute(sa.select(p).where(p.c.round_id == round_id)).mappings()
    ]
    arguments = [
        dict(x) for x in conn.execute(sa.select(a).where(a.c.round_id == round_id)).mappings()
    ]
    votes = [
        dict(x) for x in conn.execute(sa.select(v).where(v.c.round_id == round_id)).mappings()
    ]
    tokens: dict[str, str] = {}

    def name(old: str) -> str:
        # A carried-over argument's marker names nobody: it stays what it is.
        if not rename or old == CARRIED_OVER:
            return old
        return tokens.setdefault(old, new_token())

    new_argument_id = {row["id"]: random_id() for row in arguments}
    for row in positions:
        row.update(id=random_id(), participant=name(row["participant"]))
    for row in arguments:
        row.update(id=new_argument_id[row["id"]], author=name(row["author"]))
    for row in votes:
        row.update(
            id=random_id(),
            argument_id=new_argument_id[row["argument_id"]],
            voter=name(row["voter"]),
        )
    conn.execute(sa.delete(v).where(v.c.round_id == round_id))
    conn.execute(sa.delete(a).where(a.c.round_id == round_id))
    conn.execute(sa.delete(p).where(p.c.round_id == round_id))
    rng = random.SystemRandom()
    for t, rows in ((p, positions), (a, arguments), (v, votes)):
        rng.shuffle(rows)
        if rows:
            conn.execute(sa.insert(t), rows)
    return len(tokens)


def scrub_storage(engine: Engine) -> bool:
    """Make what was deleted leave the database files. Run outside any transaction.

    Returns False if the scrub could not complete now (it is retried at the next start).
    """
    if engine.dialect.name == "sqlite":
        return _checkpoint_sqlite(engine)
    if engine.dialect.name == "postgresql":
        return _vacuum_postgresql(engine)
    return True


def _checkpoint_sqlite(engine: Engine) -> bool:
    with engine.connect() as conn:
        for _ in range(CHECKPOINT_ATTEMPTS):
            # (busy, frames in the WAL, frames checkpointed); TRUNCATE empties the file.
            row: Any = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if int(row[0]) == 0:
                return True
            time.sleep(CHECKPOINT_PAUSE)
    log.warning("the SQLite WAL could not be emptied (a reader kept it busy); retried at start")
    return False


def _vacuum_postgresql(engine: Engine) -> bool:
    tables = ", ".join(f'"{name}"' for name in SENSITIVE_TABLES)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"SET lock_timeout = '{PG_LOCK_TIMEOUT}'")
            conn.exec_driver_sql(f"VACUUM (FULL) {tables}")
    except sa.exc.DBAPIError as exc:
        log.warning("VACUUM FULL of the round tables failed (%s); retried at start", exc.orig)
        return False
    return True
