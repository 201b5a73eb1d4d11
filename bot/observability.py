"""``/healthz`` and ``/metrics`` on an optional HTTP listener (``observability.listen``).

* ``GET /healthz`` answers 200 only when the database answers and every enabled platform is
  connected (see :mod:`bot.health`), else 503; the JSON body says which part is down, e.g.
  ``{"status": "unavailable", "database": {"ok": true, ...}, "platforms": {"discord":
  {"ok": false, "detail": "the Discord gateway is disconnected; reconnecting"}}}``.
* ``GET /metrics`` is the Prometheus text format, written by ``prometheus_client`` from a
  registry of this listener's own (never the process-global one, which other libraries may
  fill).

Metrics must not become a side channel: they are about the service, never about a member or
a round's participation. Rounds are counted by state (a figure that moves when a round opens or
closes, not when someone answers); the outbox, the platforms, the Matrix sync age and the
process are global; and no series carries a round, member, channel or stance label. The only
figures that move with members' activity are the write-commit histograms, which count the
group writer's transactions for the whole bot (one transaction may hold thousands of answers,
one answer may be one transaction): they say the bot wrote, never what, for whom, or where.

The server is aiohttp's (already installed with discord.py); the text format and the process
figures are ``prometheus_client``'s: nothing here re-implements either.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection

from bot import __version__
from bot.health import ObservabilityError, PlatformMonitor, Status
from bot.models import RoundState, table

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import App

log = logging.getLogger(__name__)
__all__ = ["Observability", "ObservabilityError"]

DB_TIMEOUT = 5.0
# Commits of a few ms (SQLite, synchronous=FULL) up to seconds (a VACUUM FULL at a close).
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WRITER_THREAD = "db-writer"


@dataclass
class Snapshot:
    """What ``/metrics`` reports, read once per scrape (the database away: ``None``s)."""

    database_up: bool = False
    rounds: dict[str, int] | None = None
    # platform -> (pending, failing, abandoned)
    outbox: dict[str, tuple[int, int, int]] | None = None
    platforms: dict[str, Status] = field(default_factory=dict)
    sync_ages: dict[str, float] = field(default_factory=dict)
    healthy: bool = False
    leader: bool = False


def _database_figures(conn: Connection) -> tuple[dict[str, int], dict[str, tuple[int, int, int]]]:
    r, o = table("round"), table("outbox")
    rounds = {state.value: 0 for state in RoundState}
    for state, count in conn.execute(sa.select(r.c.state, sa.func.count()).group_by(r.c.state)):
        rounds[str(state)] = int(count)
    failed = o.c.last_error.is_not(None)
    rows = conn.execute(
        sa.select(o.c.channel, o.c.delivered, failed.label("failed"), sa.func.count())
        .where(sa.or_(o.c.delivered.is_(False), failed))
        .group_by(o.c.channel, o.c.delivered, failed)
    )
    outbox: dict[str, list[int]] = {}
    for channel, delivered, has_error, count in rows:
        # Only the platform is kept: a channel label would tell which community is active.
        figures = outbox.setdefault(str(channel).partition(":")[0], [0, 0, 0])
        if not delivered:
            figures[0] += int(count)
            if has_error:
                figures[1] += int(count)
        else:
            figures[2] += int(count)
    return rounds, {k: (v[0], v[1], v[2]) for k, v in outbox.items()}


def _database_answers(conn: Connection) -> None:
    conn.execute(sa.select(table("round").c.id).limit(1)).all()


class _WriteTimer:
    """Times the write transactions of the database's writer thread (the group commits).

    SQLAlchemy's events are the seam: ``begin`` and ``commit`` on the engine, ``checkin`` on
    its pool (the connection comes back once the commit returned), on the writer thread only.
    """

    def __init__(self, engine: sa.Engine, commit: Histogram, transaction: Histogram) -> None:
        self.engine = engine
        self.commit = commit
        self.transaction = transaction
        self._local = threading.local()
        self._installed = False

    def install(self) -> None:
        sa.event.listen(self.engine, "begin", self._begin)
        sa.event.listen(self.engine, "commit", self._commit)
        sa.event.listen(self.engine, "checkin", self._checkin)
        self._installed = True

    def remove(self) -> None:
        if self._installed:
            sa.event.remove(self.engine, "begin", self._begin)
            sa.event.remove(self.engine, "commit", self._commit)
            sa.event.remove(self.engine, "checkin", self._checkin)
            self._installed = False

    @staticmethod
    def _on_writer() -> bool:
        return threading.current_thread().name.startswith(WRITER_THREAD)

    def _begin(self, _conn: Any) -> None:
        if self._on_writer():
            self._local.begin = time.perf_counter()
            self._local.commit = None

    def _commit(self, _conn: Any) -> None:
        if self._on_writer():
            self._local.commit = time.perf_counter()

    def _checkin(self, _dbapi: Any, _record: Any) -> None:
        if not self._on_writer():
            return
        begun: float | None = getattr(self._local, "begin", None)
        committed: float | None = getattr(self._local, "commit", None)
        self._local.begin = self._local.commit = None
        if begun is None or committed is None:
            return  # rolled back, or a connection used without a transaction
        now = time.perf_counter()
        self.commit.observe(now - committed)
        self.transaction.observe(now - begun)


class _SnapshotCollector(Collector):
    """The families computed at scrape time from the latest :class:`Snapshot`."""

    def __init__(self, observability: Observability) -> None:
        self.observability = observability

    def describe(self) -> Iterable[Metric]:
        return list(self._families(Snapshot(), describe=True))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self.observability.snapshot))

    def _families(self, snap: Snapshot, *, describe: bool = False) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "debate_bot_database_up", "Whether the database answered the last scrape (1/0)."
        )
        healthy = GaugeMetricFamily(
            "debate_bot_healthy", "Whether /healthz would answer 200 (database and platforms)."
        )
        rounds = GaugeMetricFamily(
            "debate_bot_rounds", "Rounds in the database, by state.", labels=["state"]
        )
        pending = GaugeMetricFamily(
            "debate_bot_outbox_pending",
            "Posts owed to channels and not delivered yet.",
            labels=["platform"],
        )
        failing = GaugeMetricFamily(
            "debate_bot_outbox_failing",
            "Owed posts whose last delivery attempt failed (they are retried).",
            labels=["platform"],
        )
        abandoned = GaugeMetricFamily(
            "debate_bot_outbox_abandoned",
            "Posts given up (platform not running, or too many failed attempts).",
            labels=["platform"],
        )
        connected = GaugeMetricFamily(
            "debate_bot_platform_connected",
            "Whether each enabled platform is connected (1/0).",
            labels=["platform"],
        )
        sync_age = GaugeMetricFamily(
            "debate_bot_matrix_sync_age_seconds",
            "Seconds since the last successful Matrix sync.",
        )
        leader = GaugeMetricFamily(
            "debate_bot_leader",
            "Whether this process leads (runs the scheduler and the outbox) (1/0).",
        )
        if not describe:
            up.add_metric([], 1.0 if snap.database_up else 0.0)
            healthy.add_metric([], 1.0 if snap.healthy else 0.0)
            for state, count in sorted((snap.rounds or {}).items()):
                rounds.add_metric([state], float(count))
            for platform, (p, f, a) in sorted((snap.outbox or {}).items()):
                pending.add_metric([platform], float(p))
                failing.add_metric([platform], float(f))
                abandoned.add_metric([platform], float(a))
            for platform, status in sorted(snap.platforms.items()):
                connected.add_metric([platform], 1.0 if status.ok else 0.0)
            if "matrix" in snap.sync_ages:
                sync_age.add_metric([], snap.sync_ages["matrix"])
            leader.add_metric([], 1.0 if snap.leader else 0.0)
        yield from (up, healthy, rounds, pending, failing, abandoned, connected, sync_age, leader)


class Observability:
    """The listener: owns its registry, the platform monitor and the aiohttp server."""

    def __init__(self, app: App) -> None:
        self.app = app
        settings = app.config.observability
        address = settings.address()
        assert address is not None, "observability.listen is not set"
        self.host, self.port = address
        # A registry of its own: the global one is filled by whatever imports prometheus_client
        # (Synapse in the tests, say), and its names are not the bot's to publish.
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Info("debate_bot_build", "The running version.", registry=self.registry).info(
            {"version": __version__}
        )
        commit = Histogram(
            "debate_bot_db_commit_seconds",
            "Time the database took to commit a write transaction of the writer thread "
            "(the group writer's batches, and the bot's other writes).",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        transaction = Histogram(
            "debate_bot_db_write_transaction_seconds",
            "Time from the start of a write transaction of the writer thread to its commit.",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self._timer = _WriteTimer(app.db.engine, commit, transaction)
        self.snapshot = Snapshot()
        self.registry.register(_SnapshotCollector(self))
        self.monitor = PlatformMonitor(
            app.adapters,
            sync_max_age=settings.matrix_sync_max_age.total_seconds(),
            standby=app.standby_status,
        )
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        from aiohttp import web

        server = web.Application()
        server.router.add_get("/healthz", self._healthz)
        server.router.add_get("/metrics", self._metrics)
        # No access log: a scrape every few seconds would drown the bot's own lines.
        runner = web.AppRunner(server, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ObservabilityError(
                f"cannot listen on {self.url_host} (observability.listen): {exc.strerror or exc}"
            ) from None
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if runner.addresses:
            self.port = int(runner.addresses[0][1])  # the port chosen when the config says 0
        self._timer.install()
        self.monitor.start()
        if not _is_loopback(self.host):
            log.warning(
                "observability listens on %s:%d, beyond this machine: /metrics and /healthz "
                "have no authentication; firewall the port or bind to 127.0.0.1",
                self.host,
                self.port,
            )
        log.info("health and metrics on http://%s/healthz and /metrics", self.url_host)

    async def stop(self) -> None:
        await self.monitor.stop()
        self._timer.remove()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url_host(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.url_host}"

    # ------------------------------------------------------------------ checks

    async def _read(self, fn: Any) -> Any:
        return await asyncio.wait_for(self.app.db.read(fn), DB_TIMEOUT)

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the bot serves (database and every platform), and what is down if not."""
        try:
            await self._read(_database_answers)
            database = Status(True, "answers")
        except Exception as exc:
            database = Status(False, f"does not answer ({_reason(exc)})")
        return self._verdict(database, self.monitor.statuses())

    def _verdict(
        self, database: Status, platforms: dict[str, Status]
    ) -> tuple[bool, dict[str, Any]]:
        ok = database.ok and all(s.ok for s in platforms.values())
        body: dict[str, Any] = {
            "status": "ok" if ok else "unavailable",
            "database": database.to_json(),
            "platforms": {name: status.to_json() for name, status in platforms.items()},
        }
        # Both are healthy: a follower serves members and takes over if the leader goes.
        body["role"] = "leader" if self.app.leading else "follower"
        return ok, body

    async def refresh(self) -> Snapshot:
        """Read everything ``/metrics`` reports, once."""
        snap = Snapshot()
        try:
            snap.rounds, outbox = await self._read(_database_figures)
            # Every running platform has its series, at 0 when nothing is owed to it.
            snap.outbox = {name: (0, 0, 0) for name in self.monitor.adapters} | outbox
            snap.database_up = True
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", _reason(exc))
        snap.platforms = self.monitor.statuses()
        for name in self.monitor.adapters:
            age = self.monitor.sync_age(name)
            if age is not None:
                snap.sync_ages[name] = age
        database = Status(snap.database_up, "")
        snap.healthy, _ = self._verdict(database, snap.platforms)
        snap.leader = self.app.leading
        self.snapshot = snap
        return snap

    # ------------------------------------------------------------------ HTTP

    async def _healthz(self, _request: web.Request) -> web.Response:
        from aiohttp import web

        ok, body = await self.health()
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            status=200 if ok else 503,
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        from aiohttp import web

        await self.refresh()
        # The Prometheus text format, or OpenMetrics when the scraper asks for it.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(
            body=encode(self.registry),
            headers={"Content-Type": content_type, "Cache-Control": "no-store"},
        )


def _reason(exc: BaseException) -> str:
    # The exception's type only: a driver's message may quote a query's parameters.
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False
