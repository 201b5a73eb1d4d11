"""The optional /healthz and /metrics listener, against a running App, with a real HTTP client.

The Discord and Matrix halves (a dropped gateway, an aged sync) are in
tests/discord/test_discord_health.py and tests/matrix/test_matrix_health.py.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from config_support import base_config_data
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.config import Config, ConfigError, load_config
from bot.health import PlatformMonitor
from bot.observability import ObservabilityError

# Every label a series may carry: states, platforms, histogram buckets and the process and
# Python figures of prometheus_client. Nothing names a round, a member, a channel or a stance.
ALLOWED_LABELS = {
    "state",
    "platform",
    "le",
    "version",
    "generation",
    "implementation",
    "major",
    "minor",
    "patchlevel",
}
# Families that move with any activity of the process (or with the group writer's commits).
MOVING = ("process_", "python_gc_", "debate_bot_db_")
EXPECTED = {
    "debate_bot_build_info",
    "debate_bot_database_up",
    "debate_bot_healthy",
    "debate_bot_leader",
    "debate_bot_rounds",
    "debate_bot_outbox_pending",
    "debate_bot_outbox_failing",
    "debate_bot_outbox_abandoned",
    "debate_bot_platform_connected",
    "debate_bot_matrix_sync_age_seconds",
    "debate_bot_db_commit_seconds",
    "debate_bot_db_write_transaction_seconds",
    "process_cpu_seconds",
    "process_resident_memory_bytes",
    "process_open_fds",
    "python_gc_collections",
    "python_info",
}


def fetch(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


async def get(app: App, path: str, accept: str | None = None) -> tuple[int, str, str]:
    assert app.observability is not None
    return await asyncio.to_thread(fetch, app.observability.base_url + path, accept)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def family_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def observed(config_factory: Any, listen: str = "127.0.0.1:0", **overrides: Any) -> Any:
    return config_factory(observability={"listen": listen}, **overrides)


async def test_listener_is_off_by_default(config_factory: Any, app_factory: Any) -> None:
    app, _ = await app_factory(config_factory())
    assert app.observability is None


@pytest.mark.parametrize(
    ("listen", "error"),
    [
        ("127.0.0.1", "give host:port"),
        ("127.0.0.1:70000", "port '70000'"),
        ("::1:9464", "an IPv6 address is written in brackets"),
        ("[127.0.0.1]:9464", "'127.0.0.1' is not an IPv6 address"),
        ("999.0.0.1:9464", "'999.0.0.1' is not an IPv4 address"),
        ("bad host:9464", "'bad host' is not an IP address or a host name"),
    ],
)
def test_listen_address_is_validated(tmp_path: Path, listen: str, error: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        f'data_dir: {tmp_path / "data"}\nobservability:\n  listen: "{listen}"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"config.yaml:3 observability.listen: {error}" in str(caught.value)


def test_valid_addresses_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\nlog_format: json\n"
        'observability: {listen: "[::1]:9464", matrix_sync_max_age: 2m}\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.log_format == "json"
    assert config.observability.address() == ("::1", 9464)
    assert config.observability.matrix_sync_max_age.total_seconds() == 120


async def test_healthz_and_metrics_of_a_running_app(config_factory: Any, app_factory: Any) -> None:
    app, _ = await app_factory(observed(config_factory))
    status, content_type, text = await get(app, "/healthz")
    assert (status, content_type) == (200, "application/json; charset=utf-8")
    assert json.loads(text) == {
        "status": "ok",
        "database": {"ok": True, "detail": "answers"},
        "platforms": {"console": {"ok": True, "detail": "no connection to check"}},
        "role": "leader",
    }

    status, content_type, text = await get(app, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    names = family_names(text)
    # No Matrix here: its sync age is absent rather than a made-up 0.
    assert EXPECTED - {"debate_bot_matrix_sync_age_seconds"} <= names
    before = samples(text)
    assert before[("debate_bot_rounds", (("state", "open"),))] == 0
    assert before[("debate_bot_healthy", ())] == 1
    assert before[("debate_bot_leader", ())] == 1
    assert before[("debate_bot_platform_connected", (("platform", "console"),))] == 1
    assert before[("debate_bot_outbox_pending", (("platform", "console"),))] == 0

    # OpenMetrics for a scraper that asks for it.
    status, content_type, _ = await get(app, "/metrics", "application/openmetrics-text")
    assert status == 200 and content_type.startswith("application/openmetrics-text")
    assert (await get(app, "/nowhere"))[0] == 404


async def test_members_answering_moves_no_series_but_the_commit_histograms(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(observed(config_factory))
    await app.engine.open_round("capitalisme-numerique")
    (r,) = app.engine.open_rounds()
    pending = ("debate_bot_outbox_pending", (("platform", "console"),))
    for _ in range(200):  # the announcement on its way to the console
        _, _, text = await get(app, "/metrics")
        before = samples(text)
        if before[pending] == 0:
            break
        await asyncio.sleep(0.05)
    assert before[pending] == 0
    assert before[("debate_bot_rounds", (("state", "open"),))] == 1
    commits = before[("debate_bot_db_commit_seconds_count", ())]

    for index in range(12):
        await app.engine.submit_position(r.id, "console", f"membre-{index}", r.stances[0])
    await app.engine.submit_position(r.id, "console", "membre-1", r.stances[1], "Un argument.")
    await app.engine.withdraw(r.id, "console", "membre-2")
    _, _, text = await get(app, "/metrics")
    after = samples(text)

    assert after[("debate_bot_db_commit_seconds_count", ())] > commits  # the writer wrote
    for key in set(before) | set(after):
        name, labels = key
        assert {label for label, _ in labels} <= ALLOWED_LABELS, key
        for word in ("member", "participant", "position", "vote", "argument", "user"):
            assert word not in name, key
        if not name.startswith(MOVING):
            assert before.get(key) == after.get(key), key

    await app.engine.close_round(r.id)
    _, _, text = await get(app, "/metrics")
    closed = samples(text)
    assert closed[("debate_bot_rounds", (("state", "open"),))] == 0
    assert closed[("debate_bot_rounds", (("state", "summarised"),))] == 1


async def test_healthz_says_when_the_database_does_not_answer(
    config_factory: Any, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = await app_factory(observed(config_factory))

    def refuse(_conn: Any) -> None:
        raise sa.exc.OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr("bot.observability._database_answers", refuse)
    monkeypatch.setattr("bot.observability._database_figures", refuse)
    status, _, text = await get(app, "/healthz")
    assert status == 503
    body = json.loads(text)
    assert body["status"] == "unavailable"
    assert body["database"] == {"ok": False, "detail": "does not answer (OperationalError)"}
    assert body["platforms"]["console"]["ok"] is True
    _, _, text = await get(app, "/metrics")
    found = samples(text)
    assert found[("debate_bot_database_up", ())] == 0
    assert found[("debate_bot_healthy", ())] == 0
    assert not any(name == "debate_bot_rounds" for name, _ in found)  # nothing stale


async def test_a_taken_port_fails_the_start_and_releases_the_lock(
    tmp_path: Path, app_factory: Any
) -> None:
    def make_config(directory: Path, **overrides: Any) -> Config:
        data = {**base_config_data(directory / "data"), **overrides}
        return Config.model_validate(data)

    first, _ = await app_factory(
        make_config(tmp_path / "a", observability={"listen": "127.0.0.1:0"})
    )
    assert first.observability is not None
    taken = f"127.0.0.1:{first.observability.port}"
    config = make_config(tmp_path / "b", observability={"listen": taken})
    second, _ = await app_factory(config, start=False)
    with pytest.raises(ObservabilityError, match=f"cannot listen on {taken}"):
        await second.start()
    second.db.close()
    # The instance lock was given back: the same data directory starts on another port.
    again, _ = await app_factory(
        make_config(tmp_path / "b", observability={"listen": "127.0.0.1:0"})
    )
    assert again.observability is not None and again.observability.port != first.observability.port


# ---------------------------------------------------------------------------------- the monitor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Reporting:
    def __init__(self) -> None:
        self.answer = (True, "fine")

    def health(self) -> tuple[bool, str]:
        return self.answer


class Polling:
    def __init__(self) -> None:
        self.last: float | None = None

    def last_sync(self) -> float | None:
        return self.last


class Broken:
    def health(self) -> tuple[bool, str]:
        raise RuntimeError("boom @someone:example.org")


class WithSyncLoop:
    """Shaped as the Matrix adapter is: a condition its sync loop notifies, and that loop."""

    def __init__(self) -> None:
        self._synced = asyncio.Condition()
        self._sync_task: asyncio.Task[None] | None = None

    async def synced(self) -> None:
        async with self._synced:
            self._synced.notify_all()


async def test_monitor_asks_adapters_through_the_protocols_or_from_outside() -> None:
    clock = Clock()
    reporting, polling, broken, looping = Reporting(), Polling(), Broken(), WithSyncLoop()
    monitor = PlatformMonitor(
        {"a": reporting, "b": polling, "c": broken, "matrix": looping, "console": object()},
        sync_max_age=90,
        clock=clock,
    )
    monitor.start()
    try:
        await asyncio.sleep(0)  # the watcher is waiting on the condition
        statuses = monitor.statuses()
        assert statuses["a"].ok and statuses["a"].detail == "fine"
        assert not statuses["b"].ok and statuses["b"].detail == "no successful sync yet"
        assert not statuses["c"].ok
        assert statuses["c"].detail == "health check failed (RuntimeError)"
        assert not statuses["matrix"].ok
        assert statuses["console"].ok

        reporting.answer = (False, "gateway down")
        assert monitor.status("a").detail == "gateway down"
        polling.last = clock.now - 30
        assert monitor.status("b").ok and monitor.sync_age("b") == 30

        await looping.synced()
        await asyncio.sleep(0)
        assert monitor.status("matrix").ok
        clock.now += 91
        assert not monitor.status("matrix").ok
        assert "91 s ago" in monitor.status("matrix").detail
        await looping.synced()
        await asyncio.sleep(0)
        assert monitor.status("matrix").ok and monitor.sync_age("matrix") == 0

        async def stopped() -> None:
            return None

        looping._sync_task = asyncio.create_task(stopped())
        await looping._sync_task
        assert monitor.status("matrix").detail == "the sync loop has stopped"
        assert monitor.sync_age("console") is None
    finally:
        await monitor.stop()
