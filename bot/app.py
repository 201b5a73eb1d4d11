"""Composition root: owns Config, Database, Engine, Scheduler and the adapters."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from bot.commands import TextCommands
from bot.config import Config
from bot.db import Database, InstanceLock
from bot.engine import Engine, EngineHooks
from bot.files import private_dir
from bot.health import Status
from bot.leader import Leadership, Succession, node_id
from bot.logs import scrub
from bot.outbox import Publisher
from bot.platforms import AdapterContext, AdapterFactory, PlatformSettings
from bot.ports import ChatPort, HeldElsewhere, ModeratorCheck
from bot.postrefs import PostRefs
from bot.scheduler import Scheduler

log = logging.getLogger(__name__)
# Settings a reload cannot change under a running bot: where its data lives, the secret,
# which platforms it is connected to, its logging.
RESTART_ONLY = (
    "data_dir",
    "database_url",
    "leader_lease",
    "packs_dir",
    "anonymity",
    "platforms",
    "log_level",
    "log_format",
    "observability",
)


class Adapter(ChatPort, Protocol):
    """A chat platform the app starts and stops."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class PlatformStartError(Exception):
    """A chat platform could not start (a missing or refused token, an unreachable server)."""

    def __init__(self, platform: str, error: Exception) -> None:
        super().__init__(f"{platform} could not start: {error}")
        self.platform = platform
        self.error = error


class App:
    """Builds every part from a :class:`Config` and runs them together."""

    def __init__(
        self,
        config: Config,
        *,
        adapters: dict[str, AdapterFactory] | None = None,
        tick_seconds: float = 60.0,
    ) -> None:
        self.config = config
        self.db = Database(config.resolved_database_url())
        self.instance_lock = InstanceLock(self.db, config.data_dir)
        self.packs = config.load_packs()
        secret = config.load_secret()
        # The engine tells the publisher of queued posts and the scheduler of changed times;
        # both are built below (they need the engine and the adapters).
        hooks = EngineHooks(
            on_outbox=lambda: self.publisher.poke(),
            on_schedule_change=lambda: self.scheduler.request_rebuild(),
        )
        self.engine = Engine(config, self.db, self.packs, secret, hooks=hooks)
        self.commands = TextCommands(self.engine)
        self.adapters: dict[str, Adapter] = {}
        factories = adapters if adapters is not None else default_adapters(config)
        for name, factory in factories.items():
            self.adapters[name] = factory(self._adapter_context(name))
        for name, adapter in self.adapters.items():
            if isinstance(adapter, ModeratorCheck):
                self.commands.moderator_checks[name] = adapter
        self.publisher = Publisher(self.engine, dict(self.adapters))
        self.tick_seconds = tick_seconds
        self.scheduler = Scheduler(self.engine, self._after_tick, tick_seconds=tick_seconds)
        # Several processes may share a PostgreSQL database: the one holding the lease runs
        # the scheduler and the outbox (see bot.leader); on SQLite this one always does.
        self.leadership = Leadership(self.db, config.leader_lease)
        self.engine.core.leadership = self.leadership
        self.succession = Succession(
            self.leadership, self._take_up, self._stand_down, self._lease_tick
        )
        self._scheduled_before = False
        self._started = False
        self._lease_task: asyncio.Task[None] | None = None
        self._running: list[str] = []  # adapters started, in order
        # Leader-only adapters (one Matrix device): started when this process leads.
        self.standing_by: set[str] = {n for n in self.adapters if self._leader_only(n)}
        self.publisher.waiting = self.standing_by
        self._standby_task: asyncio.Task[None] | None = None
        # Why each leader-only adapter's last start failed, for /healthz (cleared when it runs).
        self._start_failures: dict[str, str] = {}
        # The optional /healthz and /metrics listener (observability.listen; off by default).
        self.observability: Observability | None = None
        if config.observability.listen is not None:
            from bot.observability import Observability

            self.observability = Observability(self)

    def _leader_only(self, name: str) -> bool:
        """Whether adapter ``name`` runs in the leading process only: one that holds
        something two processes must not use at once (a Matrix device), on a database that
        several processes may share."""
        return self.leadership.shared and bool(getattr(self.adapters[name], "leader_only", False))

    def standby_status(self, name: str) -> Status | None:
        """Platform ``name``'s health while it stands by here (None when it runs or never
        stands by): a follower's is healthy; a leader's that is still taking it over is not."""
        if name not in self.standing_by:
            return None
        if self.leading:
            detail = "starting: this process leads and takes the platform over"
            failure = self._start_failures.get(name)
            return Status(False, detail if failure is None else f"{detail}; last try: {failure}")
        return Status(True, "standing by: the leading process runs it")

    def _adapter_context(self, name: str) -> AdapterContext[Any]:
        """What the adapter of platform ``name`` is built from (never this App)."""
        settings = self.config.platforms.get(name)
        return AdapterContext(
            settings=settings if settings is not None else PlatformSettings(),
            commands=self.commands,
            cases=self.commands.cases,
            rounds=self.engine,
            messages=self.engine.messages,
            data_dir=self.config.data_dir,
            debates=lambda: self.config.debates,
            refs=PostRefs(self.db, name),
        )

    @property
    def leading(self) -> bool:
        """Whether this process runs the leader's duties (the scheduler and the outbox)."""
        return self.succession.acting and self.leadership.leading

    @property
    def export_dir(self) -> Path:
        return self.config.data_dir / "exports"

    async def _after_tick(self) -> None:
        self.publisher.poke()

    async def start(self) -> None:
        # Everything the bot writes is for its own user only: the database and its WAL, the
        # exports, the Matrix store (other users of the machine must not read them).
        os.umask(0o077)
        private_dir(self.config.data_dir)
        self.instance_lock.acquire()
        if self.observability is not None:
            # Bound before anything connects: a port in use fails the start at once, and
            # /healthz answers 503 while the platforms connect.
            try:
                await self.observability.start()
            except BaseException:
                self.instance_lock.release()
                raise
        await asyncio.to_thread(self.db.migrate)
        await self.engine.start()
        # Named by the data directory: a lease left by this directory's dead process is
        # taken over at once on a restart (see bot.leader.take_lease).
        self.leadership.name_node(node_id(self.config.data_dir))
        for name, adapter in self.adapters.items():
            if self._leader_only(name):
                log.info("the %s adapter runs in the leading process only", name)
                continue
            log.info("starting the %s adapter", name)
            try:
                await adapter.start()
            except Exception as exc:
                raise PlatformStartError(name, exc) from exc
            self._running.append(name)
        # The first step at once: a lone process (or the first of several) leads from here.
        await self.succession.step()
        self._lease_task = asyncio.create_task(self._keep_lease(), name="leader-lease")
        self._started = True
        # What start made (config, packs, the platforms' caches) lives as long as the process:
        # the garbage collector stops scanning it, which takes a fifth of the CPU a member's
        # click costs under load (benchmarks/front_door.py).
        gc.freeze()

    async def _keep_lease(self) -> None:
        await asyncio.sleep(self.leadership.renew_every.total_seconds())
        await self.succession.run()

    async def _take_up(self) -> None:
        """This process now leads: catch up with the database, then schedule and deliver."""
        async with self.engine.core.lock:
            await self.engine.rounds.load_open_rounds()
        if self._scheduled_before:  # an APScheduler is not restarted: a new one
            self.scheduler = Scheduler(self.engine, self._after_tick, self.tick_seconds)
        self._scheduled_before = True
        # Edits made to config.yaml while no process led reach the rounds not yet open.
        await self.engine.reconcile_config()
        await self.scheduler.start()
        self.publisher.start()
        if self.standing_by and self._standby_task is None:
            self._standby_task = asyncio.create_task(self._take_over(), name="take-over")

    async def _take_over(self) -> None:
        """Start the leader-only adapters. The previous leader may still hold one (a Matrix
        store stays locked until its process dies or steps down): each is tried again every
        second until it starts, or until this process stops leading."""
        delay = 1.0
        while self.standing_by:
            for name in sorted(self.standing_by):
                adapter = self.adapters[name]
                try:
                    await adapter.start()
                except asyncio.CancelledError:
                    await self._stop_adapter(name)
                    raise
                except Exception as exc:
                    busy = isinstance(exc, HeldElsewhere)
                    if busy:
                        log.info("the %s adapter waits for the previous leader to let go", name)
                        self._start_failures[name] = "the previous leader still holds it"
                    else:
                        log.error("the %s adapter could not start: %s", name, exc)
                        self._start_failures[name] = _failure_text(exc)
                    await self._stop_adapter(name)
                    delay = 1.0 if busy else min(delay * 2, 30.0)
                    continue
                log.info("the %s adapter runs in this process now (it leads)", name)
                self._start_failures.pop(name, None)
                self.standing_by.discard(name)
                self._running.append(name)
                self.publisher.poke()
            if self.standing_by:
                await asyncio.sleep(delay)

    async def _cancel_take_over(self) -> None:
        task, self._standby_task = self._standby_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stop_adapter(self, name: str) -> None:
        try:
            await self.adapters[name].stop()
        except Exception:
            log.exception("the %s adapter did not stop cleanly", name)

    async def _stand_down(self) -> None:
        """The lease is lost: nothing more is scheduled or posted from this process, and the
        leader-only adapters stop (the next leader takes them over)."""
        await self.scheduler.stop()
        await self.publisher.stop()
        await self._cancel_take_over()
        for name in [n for n in self._running if self._leader_only(n)]:
            self._running.remove(name)
            self.standing_by.add(name)
            await self._stop_adapter(name)
            log.info("the %s adapter stands by (another process leads)", name)

    async def _lease_tick(self) -> None:
        """Every renewal: each process sees the rounds (and arguments) the others changed;
        the leader re-plans for what followers changed (an extended round)."""
        if not self.leadership.shared:
            return  # SQLite: this is the only process, nothing changes behind its back
        async with self.engine.core.lock:
            await self.engine.rounds.load_open_rounds()
        if self.succession.acting:
            self.scheduler.request_rebuild()
            self.publisher.poke()

    async def reload(self, path: Path) -> bool:
        """Re-read and validate the config file; apply it if valid (SIGHUP, ``reload``).

        An invalid file changes nothing: its errors are logged as ``check-config`` prints
        them and the running configuration stays. Where the bot keeps its data and which
        platforms it connects to take a restart; everything else takes effect now, and the
        rounds not yet open are reconciled with it (see :meth:`Engine.reconcile_config`).
        """
        from bot.config import ConfigError, load_config

        try:
            new = await asyncio.to_thread(load_config, path)
        except ConfigError as exc:
            log.error("%s is invalid; the running configuration stays:", path)
            for error in exc.errors:
                log.error("%s", error)
            return False
        kept = {key: getattr(self.config, key) for key in RESTART_ONLY}
        changed = [key for key in RESTART_ONLY if getattr(new, key) != kept[key]]
        if changed:
            log.warning(
                "config: %s changed; restart the bot for that to take effect", ", ".join(changed)
            )
        merged = new.model_copy(update=kept)
        packs = await asyncio.to_thread(merged.load_packs)
        self.config = merged
        self.packs = packs
        self.engine.packs = packs
        changes = await self.engine.apply_config(merged)
        log.info("config reloaded from %s: %d scheduled round(s) changed", path, len(changes))
        return True

    async def stop(self) -> None:
        """Stop taking input, flush every acknowledged write, close the database."""
        if self.observability is not None:
            await self.observability.stop()
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
            self._lease_task = None
        await self.scheduler.stop()
        await self._cancel_take_over()
        if self._started and self.succession.acting:
            # Flush owed posts while the adapters are still connected.
            try:
                await asyncio.wait_for(self.publisher.deliver(), timeout=10)
            except Exception:
                log.warning("some posts stay in the outbox for the next start")
        await self.publisher.stop()
        for name in reversed(self._running):
            try:
                await self.adapters[name].stop()
            except Exception:
                log.exception("adapter did not stop cleanly")
        self._running = []
        await self.engine.stop()
        if self.succession.acting:
            self.succession.acting = False
            try:  # a follower takes over at once rather than when the lease expires
                await asyncio.to_thread(self.leadership.resign)
            except Exception:
                log.warning("the lease could not be given up; it expires by itself")
        self.instance_lock.release()
        self.db.close()
        self._started = False


def default_adapters(config: Config) -> dict[str, AdapterFactory]:
    """The adapters enabled in the config; chat libraries are imported only when enabled."""
    from bot.platforms import REGISTRY

    enabled = set(config.platforms.enabled())
    return {p.name: p.adapter for p in REGISTRY if p.name in enabled}


async def run_until(app: App, stop: Callable[[], Awaitable[None]]) -> None:
    """Start ``app``, wait for ``stop`` to return, then stop cleanly."""
    await app.start()
    try:
        await stop()
    finally:
        await app.stop()


def _failure_text(exc: BaseException, limit: int = 200) -> str:
    """One line saying why a start failed, for /healthz: scrubbed as a log line is (no
    member or room identifier, no token), and cut to ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    text = scrub(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
