"""Several bot processes on one database: exactly one leads, under a lease with an epoch.

The leader runs the scheduler, the round transitions and the outbox; the others (followers)
serve members' commands, whose writes all go through the database. Leadership is one row of
``leader_lease``: its ``holder``, an ``epoch`` that grows at every change of holder (the
fencing token) and ``expires_at`` on the database's clock. The leader renews it every
``lease / 3``; a renewal that updates nothing means another process took over.

Two things stop an old leader (paused, partitioned, its renewals lost) from acting once a new
one took over:

* every transition and every outbox claim carries :func:`fence_clause` in its own statement:
  it applies only while this holder's epoch is the lease's and the lease has not expired by
  the database's clock (the lease row is share-locked, so a takeover waits for it to commit);
* a local deadline (the start of the last successful renewal + lease − margin, on the
  monotonic clock): past it, :meth:`Leadership.fence` gives nothing, so a process that wakes
  from a pause stops before its first statement, and never acts again under that epoch.

On SQLite there is one process (the file lock refuses a second): it takes the lease at start
and keeps it; the fence still checks holder and epoch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.files import write_private
from bot.models import table

if TYPE_CHECKING:
    from bot.db import Database

log = logging.getLogger(__name__)
LEASE_NAME = "main"
DEFAULT_LEASE = timedelta(seconds=15)


@dataclass(frozen=True)
class Fence:
    """The fencing token a leader's statements carry: who holds the lease, under which epoch.

    ``idle_ms``: how long PostgreSQL lets a fenced transaction wait on its client (see
    :func:`fence_clause`); 0 leaves the server's setting.
    """

    holder: str
    epoch: int
    idle_ms: int = 0


def fence_clause(conn: Connection, fence: Fence) -> sa.ColumnElement[bool]:
    """``EXISTS`` (this holder's epoch is the lease's, and it has not expired) for a WHERE.

    On PostgreSQL the lease row is read ``FOR SHARE``: a process taking the lease over waits
    until the statement's transaction ends, so nothing fenced commits under an older epoch
    after a newer one is granted. So that a leader paused in the middle of such a transaction
    cannot hold a takeover up for long, the server ends the transaction (rolled back) once it
    waited ``idle_ms`` on its client.
    """
    lease = table("leader_lease")
    query = sa.select(sa.literal(1)).where(
        lease.c.name == LEASE_NAME, lease.c.holder == fence.holder, lease.c.epoch == fence.epoch
    )
    if conn.dialect.name == "postgresql":
        if fence.idle_ms > 0:
            timeout = int(fence.idle_ms)
            conn.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = {timeout}")
        query = query.where(lease.c.expires_at > sa.func.statement_timestamp())
        query = query.with_for_update(read=True)
    return query.exists()


def holds_lease(conn: Connection, fence: Fence) -> bool:
    """Whether ``fence`` is still the lease's (share-locking it until this transaction ends)."""
    return bool(conn.execute(sa.select(fence_clause(conn, fence))).scalar())


_TAKE_PG = sa.text(
    "INSERT INTO leader_lease (name, holder, epoch, expires_at) "
    "VALUES (:name, :holder, 1, statement_timestamp() + :secs * interval '1 second') "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
    "epoch = leader_lease.epoch + 1, expires_at = excluded.expires_at "
    "WHERE leader_lease.expires_at <= statement_timestamp() "
    "OR leader_lease.holder LIKE :node || '@%' "
    "RETURNING epoch"
)
# SQLite: one process only (the file lock), so it takes the lease whoever had it.
_TAKE_SQLITE = sa.text(
    "INSERT INTO leader_lease (name, holder, epoch, expires_at) "
    "VALUES (:name, :holder, 1, :expires) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
    "epoch = leader_lease.epoch + 1, expires_at = excluded.expires_at "
    "RETURNING epoch"
).bindparams(sa.bindparam("expires", type_=sa.DateTime()))
_RENEW_PG = sa.text(
    "UPDATE leader_lease SET expires_at = statement_timestamp() + :secs * interval '1 second' "
    "WHERE name = :name AND holder = :holder AND epoch = :epoch"
)
_RESIGN_PG = sa.text(
    "UPDATE leader_lease SET expires_at = statement_timestamp() "
    "WHERE name = :name AND holder = :holder AND epoch = :epoch"
)


def take_lease(conn: Connection, holder: str, lease: timedelta) -> int | None:
    """Take the lease if it is free or expired (a new epoch); the epoch, or None if held.

    A lease held under this process's node (its data directory's id, the part of ``holder``
    before ``@``) is taken at once: it was left by a dead process, since the data directory's
    lock is this one's.
    """
    if conn.dialect.name == "postgresql":
        node = holder.partition("@")[0]
        secs = lease.total_seconds()
        params = {"name": LEASE_NAME, "holder": holder, "secs": secs, "node": node}
        epoch = conn.execute(_TAKE_PG, params).scalar()
    else:
        expires = datetime.now(UTC).replace(tzinfo=None) + lease
        params = {"name": LEASE_NAME, "holder": holder, "expires": expires}
        epoch = conn.execute(_TAKE_SQLITE, params).scalar()
    return None if epoch is None else int(epoch)


def renew_lease(conn: Connection, fence: Fence, lease: timedelta) -> bool:
    """Extend the lease by ``lease`` from now; False if this holder's epoch is no longer it."""
    params = {
        "name": LEASE_NAME,
        "holder": fence.holder,
        "epoch": fence.epoch,
        "secs": lease.total_seconds(),
    }
    return bool(conn.execute(_RENEW_PG, params).rowcount == 1)


NODE_FILE = "node-id"


def node_id(data_dir: Path) -> str:
    """The id of a data directory (random, kept in ``data_dir/node-id``): one per process."""
    path = data_dir / NODE_FILE
    if path.exists():
        text = path.read_text(encoding="ascii").strip()
        if text.isalnum():
            return text
    token = secrets.token_hex(8)
    write_private(path, token.encode("ascii"))
    return token


def holder_name(node: str) -> str:
    """How the lease names this process for operators: node, host and pid (no member data)."""
    return f"{node}@{socket.gethostname()[:120]}:{os.getpid()}"


class Leadership:
    """This process's side of the lease: whether it leads, and the fence its statements carry."""

    def __init__(self, db: Database, lease: timedelta = DEFAULT_LEASE, node: str = "") -> None:
        self.db = db
        self.lease = lease
        self.renew_every = lease / 3
        # Stop acting this long before the lease could have expired by the database's clock.
        self.margin = lease / 5
        # A fenced transaction left waiting on this process (paused) ends after this long.
        self.idle_ms = max(1000, int(lease.total_seconds() * 500))
        self.holder = holder_name(node or secrets.token_hex(8))
        # PostgreSQL: other processes may share the database and take the lease over.
        self.shared = db.dialect == "postgresql"
        self._epoch: int | None = None
        self._deadline = 0.0  # monotonic

    @property
    def epoch(self) -> int | None:
        return self._epoch

    def name_node(self, node: str) -> None:
        """Name this process by its data directory's id (before it first takes the lease)."""
        self.holder = holder_name(node)

    def fence(self) -> Fence | None:
        """The fence while this process leads; None once its lease may have lapsed."""
        epoch = self._epoch
        if epoch is None:
            return None
        if self.shared and time.monotonic() >= self._deadline:
            return None
        return Fence(self.holder, epoch, self.idle_ms)

    @property
    def leading(self) -> bool:
        return self.fence() is not None

    def acquire(self) -> bool:
        """Take the lease if it is free or expired (blocking: run it on a thread)."""
        started = time.monotonic()
        with self.db.engine.begin() as conn:
            epoch = take_lease(conn, self.holder, self.lease)
        if epoch is None:
            return False
        self._deadline = started + (self.lease - self.margin).total_seconds()
        self._epoch = epoch
        log.info("leader: this process now leads (epoch %d)", epoch)
        return True

    def renew(self) -> bool:
        """Renew the lease (blocking); False, and never again under this epoch, once lost."""
        fence = self.fence()
        if fence is None:
            self.drop("its lease lapsed before it could renew it")
            return False
        if not self.shared:
            return True
        started = time.monotonic()
        with self.db.engine.begin() as conn:
            renewed = renew_lease(conn, fence, self.lease)
        if not renewed:
            self.drop("another process took the lease over")
            return False
        if self._epoch == fence.epoch:
            self._deadline = started + (self.lease - self.margin).total_seconds()
        return True

    def resign(self) -> None:
        """Give the lease up at a clean stop, so that a follower takes over at once."""
        fence = self.fence()
        self._epoch = None
        if fence is None or not self.shared:
            return
        params = {"name": LEASE_NAME, "holder": fence.holder, "epoch": fence.epoch}
        with self.db.engine.begin() as conn:
            conn.execute(_RESIGN_PG, params)

    def drop(self, why: str) -> None:
        """Stop leading (and never act again under this epoch)."""
        if self._epoch is not None:
            log.warning("leader: epoch %d is over (%s); following", self._epoch, why)
        self._epoch = None


class Succession:
    """Keeps the lease on a timer and starts or stops the leader's duties as it changes hands.

    Every ``renew_every``: the leader renews (losing it calls ``on_loss`` at once); a follower
    tries to take it (winning calls ``on_gain``). ``on_tick`` runs after, in every process.
    """

    def __init__(
        self,
        leadership: Leadership,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
        on_tick: Callable[[], Awaitable[None]],
    ) -> None:
        self.leadership = leadership
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.on_tick = on_tick
        self.acting = False  # whether the leader's duties run here

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:
                log.exception("leader: lease step failed; trying again")
            await asyncio.sleep(self.leadership.renew_every.total_seconds())

    async def step(self) -> None:
        if self.acting:
            try:
                kept = await asyncio.to_thread(self.leadership.renew)
            except Exception as exc:
                # The database may be unreachable: the local deadline decides.
                log.warning("leader: renewing the lease failed (%s)", type(exc).__name__)
                kept = self.leadership.leading
            if not kept:
                await self.stand_down()
        else:
            try:
                won = await asyncio.to_thread(self.leadership.acquire)
            except Exception as exc:
                log.warning("leader: the lease could not be read (%s)", type(exc).__name__)
                won = False
            if won:
                await self.take_up()
        await self.on_tick()

    async def take_up(self) -> None:
        self.acting = True
        try:
            await self.on_gain()
        except Exception:
            log.exception("leader: starting the leader's duties failed; following")
            self.leadership.drop("its duties did not start")
            await self.stand_down()

    async def stand_down(self) -> None:
        if self.acting:
            self.acting = False
            await self.on_loss()
