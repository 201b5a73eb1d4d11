"""Is each platform the bot serves connected? Asked of the adapters from outside.

An adapter may answer for itself by implementing :class:`HealthReporter` (``health()``) or,
for a platform reached by polling, :class:`SyncClock` (``last_sync()``). Adapters that do
neither are read through what their libraries already expose:

* **Discord** (an adapter with a discord.py client as ``bot``): connected while the client is
  logged in, has seen READY, is not closed and its gateway websocket is open. ``is_ready()``
  alone is not enough: discord.py keeps it set across a dropped gateway and its reconnection.
* **Matrix** (an adapter with the ``_synced`` condition its sync loop notifies after each
  successful sync): a watcher task notes the time of each notification, so the bot counts as
  connected while its last successful sync is younger than ``matrix_sync_max_age``.
* Anything else (the console) has no connection to lose.

Nothing here imports a chat library: adapters are inspected by duck typing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


class ObservabilityError(RuntimeError):
    """The /healthz and /metrics listener cannot start (the address is taken, say)."""


@runtime_checkable
class HealthReporter(Protocol):
    """An adapter that says whether it is connected, and if not, what is wrong."""

    def health(self) -> tuple[bool, str]: ...


@runtime_checkable
class SyncClock(Protocol):
    """An adapter that syncs by polling: ``time.monotonic()`` when its last sync succeeded."""

    def last_sync(self) -> float | None: ...


@dataclass(frozen=True)
class Status:
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


def discord_client_status(client: Any) -> Status:
    """A discord.py client's gateway state, from its public methods and its websocket."""
    if client.is_closed():
        return Status(False, "the Discord client is closed")
    if not client.is_ready():
        return Status(False, "waiting for the Discord gateway (no READY yet)")
    ws = getattr(client, "ws", None)
    if ws is None or not getattr(ws, "open", False):
        return Status(False, "the Discord gateway is disconnected; reconnecting")
    return Status(True, "gateway connected")


class _SyncWatcher:
    """Notes when the Matrix adapter's sync loop reports a successful sync."""

    def __init__(self, condition: asyncio.Condition, clock: Callable[[], float]) -> None:
        self.condition = condition
        self.clock = clock
        self.last: float | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self, name: str) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"health-{name}")

    async def _run(self) -> None:
        # The notifier holds the condition's lock to notify and this loop holds it between
        # two waits, so no notification is missed.
        async with self.condition:
            while True:
                await self.condition.wait()
                self.last = self.clock()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


class PlatformMonitor:
    """Answers, for every running adapter, whether it is connected (see the module doc)."""

    def __init__(
        self,
        adapters: Mapping[str, object],
        *,
        sync_max_age: float,
        clock: Callable[[], float] = time.monotonic,
        standby: Callable[[str], Status | None] = lambda _name: None,
    ) -> None:
        self.adapters = adapters
        self.sync_max_age = sync_max_age
        self.clock = clock
        # Why a platform is not running in this process, if it stands by (bot.app).
        self.standby = standby
        self._watchers: dict[str, _SyncWatcher] = {}

    def start(self) -> None:
        """Start watching the adapters that need it; call before they start syncing."""
        for name, adapter in self.adapters.items():
            if isinstance(adapter, HealthReporter | SyncClock):
                continue
            condition = getattr(adapter, "_synced", None)
            if isinstance(condition, asyncio.Condition):
                watcher = _SyncWatcher(condition, self.clock)
                watcher.start(name)
                self._watchers[name] = watcher

    async def stop(self) -> None:
        for watcher in self._watchers.values():
            await watcher.stop()
        self._watchers.clear()

    def last_sync(self, name: str) -> float | None:
        adapter = self.adapters[name]
        if isinstance(adapter, SyncClock):
            return adapter.last_sync()
        watcher = self._watchers.get(name)
        return watcher.last if watcher is not None else None

    def polls(self, name: str) -> bool:
        """Whether this platform is reached by polling (it has a last sync to age)."""
        return isinstance(self.adapters[name], SyncClock) or name in self._watchers

    def sync_age(self, name: str) -> float | None:
        """Seconds since the last successful sync, or None (not polled, or no sync yet)."""
        last = self.last_sync(name) if self.polls(name) else None
        return None if last is None else max(0.0, self.clock() - last)

    def status(self, name: str) -> Status:
        adapter = self.adapters[name]
        standby = self.standby(name)
        if standby is not None:
            return standby
        try:
            if isinstance(adapter, HealthReporter):
                ok, detail = adapter.health()
                return Status(bool(ok), str(detail))
            if self.polls(name):
                return self._sync_status(name, adapter)
            client = getattr(adapter, "bot", None)
            if client is not None and callable(getattr(client, "is_ready", None)):
                return discord_client_status(client)
        except Exception as exc:  # a health check must answer, whatever the adapter does
            log.warning("health check of %s failed: %s", name, type(exc).__name__)
            return Status(False, f"health check failed ({type(exc).__name__})")
        return Status(True, "no connection to check")

    def _sync_status(self, name: str, adapter: object) -> Status:
        task = getattr(adapter, "_sync_task", None)
        if isinstance(task, asyncio.Task) and task.done():
            return Status(False, "the sync loop has stopped")
        age = self.sync_age(name)
        if age is None:
            return Status(False, "no successful sync yet")
        if age > self.sync_max_age:
            return Status(
                False,
                f"last successful sync {age:.0f} s ago (more than {self.sync_max_age:.0f} s)",
            )
        return Status(True, f"last successful sync {age:.0f} s ago")

    def statuses(self) -> dict[str, Status]:
        return {name: self.status(name) for name in self.adapters}
