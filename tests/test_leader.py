"""The leader lease and its fencing, on a real PostgreSQL database (and SQLite's one process).

Two :class:`Leadership` objects on one database stand for two processes: one takes the lease,
the other cannot until it expires, and then the first one's renewal fails. A transition or an
outbox claim made under a stale epoch updates nothing, even when the deposed process does not
know yet (its statements carry the fence). Then whole apps: a follower serves members, refuses
moderators' openings and closings, and takes over when the leader stops.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from config_support import UNSET_SECRET_ENV

from bot import store
from bot.app import App
from bot.config import ConfigError, load_config
from bot.db import Database, InstanceLockError
from bot.leader import Fence, Leadership
from bot.models import RoundState, table
from bot.ports import HeldElsewhere


@pytest.fixture
def pg_db(pg_url: str) -> Any:
    db = Database(pg_url)
    db.migrate()
    yield db
    db.close()


def _round(db: Database, state: RoundState = RoundState.SCHEDULED) -> int:
    """A bare round row (and one outbox row for it) straight in the database."""
    moment = datetime(2030, 1, 1, 12, 0)

    def insert(conn: sa.Connection) -> int:
        round_id = store.insert_round(
            conn,
            {
                "debate_id": "d",
                "seq": 1,
                "question_id": "q",
                "code": "CODE1",
                "state": state.value,
                "reminder_sent": False,
                "opened_by": "schedule",
                "progress_posted": 0,
                "opens_at": moment,
                "closes_at": moment + timedelta(hours=1),
                "reminder_at": None,
                "channels": "console:general",
            },
        )
        store.insert_outbox(conn, round_id, "announcement", ["console:general"], moment)
        return round_id

    return db.write_sync(insert)


def _state(db: Database, round_id: int) -> str:
    r = table("round")
    query = sa.select(r.c.state).where(r.c.id == round_id)
    return str(db.read_sync(lambda conn: conn.execute(query).scalar_one()))


def _attempts(db: Database) -> int:
    o = table("outbox")
    return int(db.read_sync(lambda conn: conn.execute(sa.select(o.c.attempts)).scalar_one()))


def test_one_of_two_takes_the_lease_and_the_other_only_once_it_expired(pg_db: Database) -> None:
    one = Leadership(pg_db, timedelta(seconds=1), node="one")
    two = Leadership(pg_db, timedelta(seconds=1), node="two")
    assert one.acquire()
    assert not two.acquire()
    assert one.leading and not two.leading
    assert one.renew()
    first = one.epoch
    assert first is not None
    time.sleep(1.3)  # no renewal: the lease expires by the database's clock
    assert not one.leading  # its local deadline passed first
    assert two.acquire()
    assert two.epoch == first + 1
    assert not one.renew()  # and its epoch is over for good
    assert one.epoch is None and one.fence() is None
    assert not one.acquire()  # two holds it now


def test_a_stale_epoch_transitions_nothing_and_claims_nothing(pg_db: Database) -> None:
    round_id = _round(pg_db)
    old = Leadership(pg_db, timedelta(seconds=1), node="old")
    new = Leadership(pg_db, timedelta(seconds=5), node="new")
    assert old.acquire()
    stale = old.fence()
    assert stale is not None
    time.sleep(1.3)
    assert new.acquire()
    fresh = new.fence()
    assert fresh is not None

    # What a paused leader would send on waking, its fence still in hand.
    def transition(fence: Fence) -> bool:
        return pg_db.write_sync(
            lambda conn: store.transition(
                conn, round_id, RoundState.SCHEDULED, RoundState.OPEN, fence=fence
            )
        )

    def claim(fence: Fence, attempts: int) -> bool:
        outbox_id = pg_db.read_sync(lambda conn: store.pending_outbox(conn)[0].id)
        return pg_db.write_sync(
            lambda conn: store.begin_delivery(conn, outbox_id, attempts, fence)
        )

    assert not transition(stale)
    assert _state(pg_db, round_id) == RoundState.SCHEDULED
    assert not claim(stale, 0)
    assert _attempts(pg_db) == 0

    assert transition(fresh)
    assert _state(pg_db, round_id) == RoundState.OPEN
    assert claim(fresh, 0)
    assert not claim(fresh, 0)  # claimed already: its attempt count moved
    assert _attempts(pg_db) == 1


def test_an_expired_lease_fences_even_its_holder_by_the_database_clock(pg_db: Database) -> None:
    round_id = _round(pg_db)
    lone = Leadership(pg_db, timedelta(seconds=1), node="lone")
    assert lone.acquire()
    fence = lone.fence()
    assert fence is not None
    time.sleep(1.2)  # nobody took it over, but it expired
    applied = pg_db.write_sync(
        lambda conn: store.transition(
            conn, round_id, RoundState.SCHEDULED, RoundState.OPEN, fence=fence
        )
    )
    assert not applied and _state(pg_db, round_id) == RoundState.SCHEDULED


def test_a_restart_with_the_same_data_directory_takes_its_own_lease_at_once(
    pg_db: Database,
) -> None:
    dead = Leadership(pg_db, timedelta(seconds=30), node="same")
    assert dead.acquire()
    other = Leadership(pg_db, timedelta(seconds=30), node="other")
    assert not other.acquire()
    # The data directory's lock proves its previous process is gone: no wait for expiry.
    again = Leadership(pg_db, timedelta(seconds=30), node="same")
    assert again.acquire()
    assert again.epoch == (dead.epoch or 0) + 1


def test_the_lease_length_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("leader_lease: 0s\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "leader_lease" in str(err.value.errors)
    path.write_text("leader_lease: 3s\n", encoding="utf-8")
    assert load_config(path).leader_lease == timedelta(seconds=3)


# ---------------------------------------------------------------------- whole apps


def _shared(config_factory: Any, tmp_path: Path, db_url: str, name: str, **extra: Any) -> Any:
    """A process's config: its own data directory, the database and the secret shared."""
    anonymity = {
        "min_group_size": 3,
        "secret_env": UNSET_SECRET_ENV,
        "secret_file": str(tmp_path / "server-secret"),
    }
    return config_factory(
        database_url=db_url,
        data_dir=str(tmp_path / name),
        anonymity=anonymity,
        observability={"listen": "127.0.0.1:0"},
        **extra,
    )


async def _say(app: App, line: str) -> str:
    replies = await app.adapters["console"].feed(line)  # type: ignore[attr-defined]
    return "\n".join(r.text for r in replies)


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


async def _healthz_role(app: App) -> str:
    """What /healthz says (both roles answer 200), checked against the leader gauge."""
    assert app.observability is not None
    base = app.observability.base_url
    body = json.loads(await asyncio.to_thread(_fetch, base + "/healthz"))
    assert body["status"] == "ok"
    await app.observability.refresh()
    metrics = await asyncio.to_thread(_fetch, base + "/metrics")
    gauge = "1.0" if body["role"] == "leader" else "0.0"
    assert f"debate_bot_leader {gauge}" in metrics
    return str(body["role"])


async def test_sqlite_is_one_process_always_leader(
    tmp_path: Path, config_factory: Any, app_factory: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'debates.db'}"
    app, _ = await app_factory(_shared(config_factory, tmp_path, url, "one"))
    assert app.leading and app.leadership.epoch == 1
    assert await _healthz_role(app) == "leader"
    second, _ = await app_factory(_shared(config_factory, tmp_path, url, "two"), start=False)
    with pytest.raises(InstanceLockError, match="on the database"):
        await second.start()
    second.db.close()


async def test_a_follower_serves_members_and_takes_over_when_the_leader_stops(
    tmp_path: Path, pg_url: str, config_factory: Any, app_factory: Any
) -> None:
    leader, _ = await app_factory(
        _shared(config_factory, tmp_path, pg_url, "one", leader_lease="3s")
    )
    follower, _ = await app_factory(
        _shared(config_factory, tmp_path, pg_url, "two", leader_lease="3s")
    )
    assert leader.leading and not follower.leading
    assert await _healthz_role(follower) == "follower"

    # A moderator's command is carried out by the process it reaches, a follower too (with
    # Discord shards, their server may be held by one): the round opens once.
    assert "ouvert" in await _say(follower, "@alice !debat ouvrir capitalisme-numerique")
    await leader.succession.step()  # a lease tick: the leader sees the round open
    (r,) = leader.engine.open_rounds()
    stance = r.stances[0]
    label = follower.engine.stance_label(r.debate_id, stance)
    said = await _say(follower, f"@bob dm !position {stance}")
    assert follower.engine.messages("position_recorded", stance=label, code=r.code) in said
    # The same member through the leader is the same pseudonym (one secret, one salt).
    mine = await leader.engine.my_position(r.id, "console", "bob")
    assert mine.stance == stance

    # Closed through the follower: closed and summarised once; the leader stops serving it.
    assert "fermé" in await _say(follower, f"@alice !debat fermer {r.code}")
    assert [x.state for x in await leader.engine.list_rounds()] == [RoundState.SUMMARISED]
    # The leader has not seen it close yet (until its lease tick): a close there finds it
    # closed already, and says so.
    assert await _say(leader, f"@alice !debat fermer {r.code}") == leader.engine.messages(
        "round_closed"
    )
    await leader.succession.step()
    assert not leader.engine.open_rounds()
    o = table("outbox")
    kinds = leader.db.read_sync(
        lambda conn: sorted(
            conn.execute(sa.select(o.c.kind).where(o.c.round_id == r.id)).scalars()
        )
    )
    assert sorted(set(kinds)) == kinds, f"a post owed twice: {kinds}"

    assert "ouvert" in await _say(leader, "@alice !debat ouvrir capitalisme-numerique")
    await follower.succession.step()
    (r,) = follower.engine.open_rounds()

    await leader.stop()  # resigns: the follower need not wait for the lease to expire
    await follower.succession.step()
    assert follower.leading
    assert await _healthz_role(follower) == "leader"
    assert "fermé" in await _say(follower, f"@alice !debat fermer {r.code}")
    states = {x.id: x.state for x in await follower.engine.list_rounds()}
    assert states[r.id] == RoundState.SUMMARISED


async def test_a_deposed_leader_stops_its_scheduler_and_outbox_at_once(
    tmp_path: Path, pg_url: str, config_factory: Any, app_factory: Any
) -> None:
    one, _ = await app_factory(_shared(config_factory, tmp_path, pg_url, "one"))
    assert one.leading and one.scheduler._started
    other = Leadership(one.db, timedelta(seconds=30), node="intruder")
    # An operator (or a new leader after a partition) has the lease now.
    one.db.write_sync(
        lambda conn: conn.execute(
            sa.text("UPDATE leader_lease SET expires_at = now() - interval '1 second'")
        )
    )
    assert await asyncio.to_thread(other.acquire)
    await one.succession.step()
    assert not one.leading and not one.scheduler._started
    assert one.publisher._task is None
    assert await _healthz_role(one) == "follower"


async def test_a_leader_without_the_platform_leaves_its_posts_owed(
    tmp_path: Path, pg_url: str, config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(_shared(config_factory, tmp_path, pg_url, "one"))
    assert app.leading
    # Delivered by the call below only: the running publisher could take the row first.
    await app.publisher.stop()
    round_id = _round(app.db)
    o = table("outbox")
    app.db.write_sync(
        lambda conn: conn.execute(sa.update(o).values(channel="matrix:!elsewhere:example.org"))
    )
    assert await app.publisher.deliver() == 0
    # Another process may run Matrix and lead later: the post is not given up here.
    (row,) = app.db.read_sync(lambda conn: store.pending_outbox(conn))
    assert (row.round_id, row.attempts) == (round_id, 0)


class _Device:
    """A leader-only adapter (as the Matrix one is): one holder at a time, like a store."""

    leader_only = True
    holder: _Device | None = None  # shared by every instance: the one device

    def __init__(self) -> None:
        self.posts: list[Any] = []
        self.starts = 0
        self.busy_refusals = 0

    async def start(self) -> None:
        if _Device.holder is not None and _Device.holder is not self:
            self.busy_refusals += 1
            raise StoreBusy("in use")
        _Device.holder = self
        self.starts += 1

    async def stop(self) -> None:
        if _Device.holder is self:
            _Device.holder = None

    async def publish(self, channel: Any, post: Any) -> None:
        assert _Device.holder is self, "a post through a device this process does not hold"
        self.posts.append(post)


class StoreBusy(HeldElsewhere):
    """As the Matrix store's: the app waits and tries again."""


async def _health(app: App) -> dict[str, Any]:
    assert app.observability is not None
    _ok, body = await app.observability.health()
    return body


async def test_a_leader_only_adapter_runs_in_the_leader_and_moves_with_the_lease(
    tmp_path: Path, pg_url: str, config_factory: Any
) -> None:
    from bot.adapters.console import ConsoleAdapter

    _Device.holder = None
    devices: dict[str, _Device] = {}
    apps: list[App] = []

    def make(name: str) -> App:
        config = _shared(config_factory, tmp_path, pg_url, name, leader_lease="3s")
        device = devices[name] = _Device()
        app = App(
            config,
            adapters={
                "console": lambda c: ConsoleAdapter(c.settings, c.commands, c.export_dir),
                "matrix": lambda _c: device,  # type: ignore[dict-item,return-value]
            },
            tick_seconds=3600,
        )
        apps.append(app)
        return app

    try:
        one, two = make("one"), make("two")
        await one.start()
        await two.start()
        assert one.leading and not two.leading
        for _ in range(50):  # the leader starts it in the background
            if _Device.holder is devices["one"]:
                break
            await asyncio.sleep(0.05)
        assert _Device.holder is devices["one"] and devices["two"].starts == 0
        assert (await _health(one))["platforms"]["matrix"]["ok"]
        follower = (await _health(two))["platforms"]["matrix"]
        assert follower == {"ok": True, "detail": "standing by: the leading process runs it"}

        # The leader loses its lease while it still holds the device (paused, say): the new
        # leader waits for it, its posts owed, and /healthz says it is not serving yet.
        await one.publisher.stop()
        one.db.write_sync(
            lambda conn: conn.execute(
                sa.text("UPDATE leader_lease SET expires_at = now() - interval '1 second'")
            )
        )
        await two.succession.step()
        assert two.leading
        await asyncio.sleep(0.3)
        assert devices["two"].busy_refusals >= 1 and devices["two"].starts == 0
        starting = (await _health(two))["platforms"]["matrix"]
        assert not starting["ok"] and starting["detail"].startswith("starting"), starting
        assert starting["detail"].endswith("last try: the previous leader still holds it")
        await two.publisher.stop()
        _round(two.db)
        o = table("outbox")
        two.db.write_sync(
            lambda conn: conn.execute(sa.update(o).values(channel="matrix:!room:example.org"))
        )
        assert await two.publisher.deliver() == 0
        (row,) = two.db.read_sync(lambda conn: store.pending_outbox(conn))
        assert row.attempts == 0, "a post tried through a device not held"

        # The old leader's next lease step finds the lease gone: it lets the device go, and
        # the new leader takes it within a retry and delivers the owed post.
        await one.succession.step()
        assert not one.leading and _Device.holder is not devices["one"]
        for _ in range(60):
            if _Device.holder is devices["two"]:
                break
            await asyncio.sleep(0.05)
        assert _Device.holder is devices["two"]
        assert await two.publisher.deliver() == 1
        assert [p.kind.value for p in devices["two"].posts] == ["announcement"]
        assert devices["one"].posts == []
        assert (await _health(one))["platforms"]["matrix"]["detail"].startswith("standing by")
    finally:
        for app in reversed(apps):
            await app.stop()
    assert _Device.holder is None, "a stopped app kept the device"


class _RefusedDevice(_Device):
    """A leader-only adapter its platform refuses (a revoked access token, say)."""

    async def start(self) -> None:
        raise RuntimeError(
            "M_UNKNOWN_TOKEN for @bot:example.org: access_token=syt_Ym90_secretsecret_1a2b3c"
        )


async def test_a_leader_says_in_healthz_why_its_leader_only_adapter_does_not_start(
    tmp_path: Path, pg_url: str, config_factory: Any
) -> None:
    from bot.adapters.console import ConsoleAdapter

    config = _shared(config_factory, tmp_path, pg_url, "one", leader_lease="3s")
    app = App(
        config,
        adapters={
            "console": lambda c: ConsoleAdapter(c.settings, c.commands, c.export_dir),
            "matrix": lambda _c: _RefusedDevice(),  # type: ignore[dict-item,return-value]
        },
        tick_seconds=3600,
    )
    try:
        await app.start()
        assert app.leading
        for _ in range(50):
            detail = (await _health(app))["platforms"]["matrix"]["detail"]
            if "last try" in detail:
                break
            await asyncio.sleep(0.05)
        health = (await _health(app))["platforms"]["matrix"]
        assert not health["ok"]
        assert health["detail"].startswith("starting: this process leads"), health
        assert "RuntimeError: M_UNKNOWN_TOKEN" in health["detail"], health
        # Scrubbed as a log line: no member identifier, no token.
        assert "@bot:example.org" not in health["detail"], health
        assert "secretsecret" not in health["detail"], health
    finally:
        await app.stop()
