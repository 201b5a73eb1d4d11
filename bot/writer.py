"""Group commit: many concurrent submissions, one transaction, each acknowledged after it.

A member's click becomes an operation queued here; the writer thread takes everything queued
so far, applies it in submission order inside one transaction (consecutive operations of the
same kind as one ``executemany``), commits, and only then resolves each caller's future. While
that transaction runs, new submissions pile up for the next one, so the batch size adapts to
the load: one row when the bot is quiet, thousands under a burst. An acknowledged write is a
committed write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import Database
from bot.models import RoundState, random_id, table
from bot.outage import CommitUnknown

log = logging.getLogger(__name__)
T = TypeVar("T")


class RoundNotOpen(Exception):
    """The round closed (or never opened) before the write reached the database."""


@dataclass(frozen=True)
class StanceOp:
    round_id: int
    participant: str
    stance: str


@dataclass(frozen=True)
class VoteOp:
    round_id: int
    argument_id: int
    voter: str
    value: int


@dataclass(frozen=True)
class CallOp:
    """Any other write, run in its own savepoint so its failure spares the batch."""

    round_id: int | None
    fn: Callable[[Connection], Any]
    # True for a call that may end a round (a close, a purge): see GroupWriter._apply.
    ends_rounds: bool = False


Op = StanceOp | VoteOp | CallOp

# table, conflict key, updated column, columns, PostgreSQL array types
_UPSERTS: dict[type, tuple[str, str, str, tuple[str, ...], tuple[str, ...]]] = {
    StanceOp: (
        "position",
        "round_id, participant",
        "stance",
        ("id", "round_id", "participant", "stance"),
        ("bigint", "integer", "varchar", "varchar"),
    ),
    VoteOp: (
        "vote",
        "argument_id, voter",
        "value",
        ("id", "round_id", "argument_id", "voter", "value"),
        ("bigint", "integer", "bigint", "varchar", "integer"),
    ),
}


class GroupWriter:
    """Serialises every write through one task and one thread, committing in groups."""

    def __init__(self, db: Database, max_batch: int = 5000) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.batches = 0
        self.ops = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="group-writer")

    async def stop(self) -> None:
        """Flush what is queued, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def submit(self, op: Op) -> Any:
        if self._stopping:
            raise RuntimeError("the writer is stopping")
        if self._task is None:
            self.start()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        self._wake.set()
        return await future

    async def call(
        self,
        fn: Callable[[Connection], T],
        round_id: int | None = None,
        *,
        ends_rounds: bool = False,
    ) -> T:
        result: T = await self.submit(CallOp(round_id, fn, ends_rounds))
        return result

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                ops = [op for op, _ in batch]
                try:
                    results = await self.db.on_writer(partial(self._execute, ops))
                except Exception as exc:  # the batch failed as a whole: retry one by one
                    # By type only: a database error's text may quote what a member wrote.
                    log.warning(
                        "group commit of %d writes failed (%s); retrying singly",
                        len(ops),
                        type(exc).__name__,
                    )
                    unknown = isinstance(exc, CommitUnknown)
                    results = []
                    for op in ops:
                        try:
                            results.extend(await self.db.on_writer(partial(self._execute, [op])))
                        except Exception as single:
                            # After a COMMIT of unknown outcome, a failed retry proves nothing.
                            if unknown and not isinstance(single, CommitUnknown):
                                failed: Exception = CommitUnknown()
                                failed.__cause__ = single
                                results.append(failed)
                            else:
                                results.append(single)
                self.batches += 1
                self.ops += len(ops)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
            if self._stopping and not self._pending:
                return

    def _execute(self, ops: list[Op]) -> list[Any]:
        applied = False
        try:
            with self.db.engine.begin() as conn:
                results = self._apply(conn, ops)
                applied = True
        except Exception as exc:
            # A server that dies during COMMIT may have committed it: callers must not be told
            # "nothing was recorded". SQLite's COMMIT either happened or reported an error.
            if applied and self.db.dialect != "sqlite":
                raise CommitUnknown() from exc
            raise
        return results

    def _apply(self, conn: Connection, ops: list[Op]) -> list[Any]:
        results: list[Any] = []
        open_ids = self._open_rounds(conn, ops)
        for kind, run in groupby(ops, key=type):
            items = list(run)
            if kind is CallOp:
                for op in items:
                    assert isinstance(op, CallOp)
                    results.append(self._call(conn, op, open_ids))
                    if op.ends_rounds:
                        # The call may have closed a round (and re-keyed it): what follows in
                        # the batch must not write into it under its old pseudonyms.
                        open_ids = self._open_rounds(conn, ops)
            else:
                results.extend(self._bulk(conn, items, open_ids))
        return results

    def _open_rounds(self, conn: Connection, ops: list[Op]) -> set[int]:
        ids = {op.round_id for op in ops if op.round_id is not None}
        if not ids:
            return set()
        rounds = table("round")
        query = sa.select(rounds.c.id).where(
            rounds.c.id.in_(ids), rounds.c.state == RoundState.OPEN.value
        )
        if conn.dialect.name == "postgresql":
            # A close from another connection waits for this batch (and vice versa).
            query = query.with_for_update(read=True)
        return set(conn.execute(query).scalars())

    def _call(self, conn: Connection, op: CallOp, open_ids: set[int]) -> Any:
        if op.round_id is not None and op.round_id not in open_ids:
            return RoundNotOpen()
        try:
            with conn.begin_nested():
                return op.fn(conn)
        except Exception as exc:
            return exc

    def _bulk(self, conn: Connection, items: list[Op], open_ids: set[int]) -> list[Any]:
        results: list[Any] = []
        rows: dict[tuple[int, str] | tuple[int, int, str], dict[str, Any]] = {}
        for op in items:
            if op.round_id not in open_ids:
                results.append(RoundNotOpen())
                continue
            results.append(None)
            if isinstance(op, StanceOp):
                rows[(op.round_id, op.participant)] = {
                    "id": random_id(),
                    "round_id": op.round_id,
                    "participant": op.participant,
                    "stance": op.stance,
                }
            elif isinstance(op, VoteOp):
                rows[(op.round_id, op.argument_id, op.voter)] = {
                    "id": random_id(),
                    "round_id": op.round_id,
                    "argument_id": op.argument_id,
                    "voter": op.voter,
                    "value": op.value,
                }
        if rows:
            # Later operations of the same member in one batch win, as they would one by one.
            self._upsert(conn, type(items[0]), list(rows.values()))
        return results

    @staticmethod
    def _upsert(conn: Connection, kind: type, rows: list[dict[str, Any]]) -> None:
        """One upsert for the whole group, straight to the driver (this is the hot path).

        PostgreSQL gets a single statement over ``unnest`` arrays (one round trip for the
        batch); SQLite, in-process, gets the driver's ``executemany``.
        """
        name, key, value, cols, types = _UPSERTS[kind]
        column_list = ", ".join(cols)
        conflict = f"ON CONFLICT ({key}) DO UPDATE SET {value} = excluded.{value}"
        if conn.dialect.name == "postgresql":
            arrays = ", ".join(f"%({c})s::{t}[]" for c, t in zip(cols, types, strict=True))
            sql = f"INSERT INTO {name} ({column_list}) SELECT * FROM unnest({arrays}) {conflict}"
            conn.exec_driver_sql(sql, {c: [row[c] for row in rows] for c in cols})
            return
        marks = ", ".join("?" for _ in cols)
        sql = f"INSERT INTO {name} ({column_list}) VALUES ({marks}) {conflict}"
        conn.exec_driver_sql(sql, [tuple(row[c] for c in cols) for row in rows])
