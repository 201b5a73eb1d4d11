"""What a member is told when the database fails or hangs: a bounded, truthful answer.

The use-cases members and moderators call are wrapped by :func:`guarded`. Each runs in a task
of its own and its caller waits at most a budget (a few seconds) for it:

* it finished: its result, or its refusal (:class:`~bot.engine.EngineError`) as before;
* the database **failed** (the transaction raised, so it was rolled back): a write answers
  ``db_unavailable`` ("nothing was recorded, try again in a minute"), a read
  ``db_unavailable_read``;
* the database did **not answer** within the budget: a read is abandoned (it changes nothing);
  a write keeps running in the background and its commit may still happen later, so the
  member is told it ``could not be confirmed`` (``db_unconfirmed``) and how to check;
* the transaction's COMMIT itself failed on a server database (:class:`CommitUnknown`), or the
  use-case had already committed part of its work (:func:`checkpoint`): ``db_unconfirmed``,
  never "nothing was recorded".

Nothing here blocks another caller: the budget bounds each member's wait, and the console and
the Matrix worker handle members concurrently, so one stuck write never holds up the replies
of others. When the database is back the same code paths simply succeed again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, Protocol, TypeVar

import sqlalchemy as sa

if TYPE_CHECKING:
    from bot.engine import EngineError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Seconds a member waits for the database before being answered anyway. Discord's deadline
# (3 s) is met by the defer that comes first; this bounds the answer that follows it.
WRITE_BUDGET = 5.0
READ_BUDGET = 5.0
# Once a use-case passed its checkpoint (the close is committed, the export's data is read),
# what is left is mostly computation: it gets this long in all before the answer is sent.
AFTER_CHECKPOINT_BUDGET = 30.0

Kind = Literal["read", "write"]
# How a member checks what was recorded, in the text commands (console, Matrix).
CHECK_COMMAND = "`!ma-position`"


class CommitUnknown(Exception):
    """The COMMIT of a transaction failed on a server database: it may have happened."""


@dataclass
class Budget:
    """How long callers wait for the database (seconds); tests make these short."""

    write: float = WRITE_BUDGET
    read: float = READ_BUDGET
    after_checkpoint: float = AFTER_CHECKPOINT_BUDGET


class _HasBudget(Protocol):
    budget: Budget


@dataclass
class _Progress:
    task: asyncio.Task[Any] | None
    checkpoint: asyncio.Event
    wake: Callable[..., None] | None = None  # the waiting caller's, while it waits


def _mine() -> _Progress | None:
    """The progress of the guarded use-case running in this very task, if any.

    Context variables leak into tasks created from a use-case (a scheduler job, say): those
    are not part of it, so the task is compared too.
    """
    progress = _progress.get()
    if progress is None or progress.task is not asyncio.current_task():
        return None
    return progress


_progress: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar(
    "outage_progress", default=None
)
# Writes left running after their caller was answered: kept referenced until they end.
_background: set[asyncio.Task[Any]] = set()


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be used now (not a bug, not a refusal).

    Connection refused or lost, the server shutting down, a database that does not accept
    connections, a full disk or a read-only file (SQLite reports both as OperationalError),
    an exhausted pool, an I/O error.
    """
    return isinstance(
        exc,
        sa.exc.OperationalError
        | sa.exc.InterfaceError
        | sa.exc.TimeoutError
        | sa.exc.DisconnectionError
        | sa.exc.PendingRollbackError
        | CommitUnknown
        | OSError,
    )


def checkpoint() -> None:
    """Mark that the running use-case committed part of its work (or read all it needs).

    A failure after this point is not "nothing was recorded"; the rest of the use-case gets
    :attr:`Budget.after_checkpoint` rather than the database budget.
    """
    progress = _mine()
    if progress is not None:
        progress.checkpoint.set()
        if progress.wake is not None:
            progress.wake()


def _unavailable(kind: Kind, *, uncertain: bool) -> EngineError:
    from bot.engine import EngineError

    if kind == "read":
        return EngineError("db_unavailable_read")
    if uncertain:
        # Adapters whose members check elsewhere (Discord's command and button) replace it.
        return EngineError("db_unconfirmed", check=CHECK_COMMAND)
    return EngineError("db_unavailable")


async def settles_within(task: asyncio.Future[Any], timeout: float) -> bool:  # noqa: ASYNC109
    """Whether ``task`` is done within ``timeout`` seconds (it is never cancelled): what
    ``asyncio.wait({task}, timeout=...)`` answers, with one future and two callbacks instead
    of its set and helper futures (every member's request waits like this)."""
    await _first_of(task, timeout, None)
    return task.done()


async def _first_of(task: asyncio.Future[Any], seconds: float, progress: _Progress | None) -> None:
    """Wait until ``task`` ends, ``seconds`` pass or, when ``progress`` is given and
    its checkpoint is not passed yet, the checkpoint is passed: whichever comes first."""
    if task.done():
        return
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(*_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    timer = loop.call_later(max(seconds, 0.0), wake)
    if progress is not None and not progress.checkpoint.is_set():
        progress.wake = wake
    try:
        await waiter
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
        if progress is not None:
            progress.wake = None


async def run_bounded(
    coro: Coroutine[Any, Any, T], kind: Kind, budget: Budget, what: str = "a request"
) -> T:
    """Run ``coro`` in its own task; wait for it within ``budget`` (see the module doc)."""
    progress = _Progress(None, asyncio.Event())
    context = contextvars.copy_context()
    context.run(_progress.set, progress)
    loop = asyncio.get_running_loop()
    task: asyncio.Task[T] = loop.create_task(coro, context=context)
    progress.task = task
    limit = budget.write if kind == "write" else budget.read
    deadline = loop.time() + limit
    try:
        while not task.done() and loop.time() < deadline:
            await _first_of(task, deadline - loop.time(), progress)
            if progress.checkpoint.is_set() and limit < budget.after_checkpoint:
                deadline += budget.after_checkpoint - limit
                limit = budget.after_checkpoint
    except asyncio.CancelledError:
        if kind == "read":
            task.cancel()
        else:
            _keep(task, what)
        raise
    if not task.done():
        if kind == "read" and not progress.checkpoint.is_set():
            task.cancel()
        else:
            _keep(task, what)
        log.warning("the database did not answer %s within %.0f s", what, limit)
        raise _unavailable(kind, uncertain=True)
    exc = task.exception()
    if exc is None:
        return task.result()
    if is_outage(exc):
        uncertain = isinstance(exc, CommitUnknown) or progress.checkpoint.is_set()
        log.warning("the database failed during %s: %s", what, type(exc).__name__)
        raise _unavailable(kind, uncertain=uncertain) from None
    raise exc


def _keep(task: asyncio.Task[Any], what: str) -> None:
    """Let an unanswered write finish by itself, and say in the log how it ended."""
    _background.add(task)

    def done(finished: asyncio.Task[Any]) -> None:
        _background.discard(finished)
        if finished.cancelled():
            return
        exc = finished.exception()
        if exc is None:
            log.info("%s finished after its answer was sent", what)
        elif is_outage(exc):
            log.warning("%s failed after its answer was sent: %s", what, type(exc).__name__)
        # Refusals (EngineError) and anything else: the member was already told; nothing to do.

    task.add_done_callback(done)


def guarded(
    kind: Kind,
) -> Callable[
    [Callable[P, Coroutine[Any, Any, T]]],
    Callable[P, Coroutine[Any, Any, T]],
]:
    """Decorate an Engine use-case: its callers get a bounded, truthful answer."""

    def wrap(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        what = fn.__name__.replace("_", " ")

        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            owner: _HasBudget = args[0]  # type: ignore[assignment]
            if _mine() is not None:
                # Called from inside another guarded use-case: that one bounds the wait.
                return await fn(*args, **kwargs)
            return await run_bounded(fn(*args, **kwargs), kind, owner.budget, what)

        return run

    return wrap


def as_answer(exc: BaseException) -> EngineError | None:
    """The member-facing refusal for an outage that escaped the guards, else None.

    Whatever reached the database may have committed before the failure, so it is never
    "nothing was recorded".
    """
    if is_outage(exc):
        return _unavailable("write", uncertain=True)
    return None


__all__ = [
    "Budget",
    "CommitUnknown",
    "as_answer",
    "checkpoint",
    "guarded",
    "is_outage",
    "run_bounded",
]
