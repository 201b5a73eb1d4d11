"""/healthz and /metrics of a bot on a real Synapse: Matrix counts as connected while its last
successful sync is younger than the bound, and each new sync is seen from outside the adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import PASSWORD_ENV, Users, bot_config, make_room
from matrix_homeserver import Synapse
from matrix_members import Member
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.matrix import MatrixAdapter
from bot.app import App
from bot.config import ObservabilityConfig

pytestmark = pytest.mark.synapse


async def get(base: str, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + path, timeout=aiohttp.ClientTimeout(total=10)) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (result := await check()):
        if loop.time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)
    return result


async def sync_age(base: str) -> float | None:
    _, text = await get(base, "/metrics")
    for family in text_string_to_metric_families(text):
        if family.name == "debate_bot_matrix_sync_age_seconds":
            return float(family.samples[0].value)
    return None


async def test_healthz_follows_the_matrix_sync(
    synapse: Synapse,
    users: Users,
    members: dict[str, Member],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, users.passwords["bot"])
    mod = members["mod"]
    bot = users.ids["bot"]
    room_id, _ = await make_room(mod, [bot])
    config = bot_config(tmp_path / "bot", synapse.url, bot, room_id)
    config = config.model_copy(update={"observability": ObservabilityConfig(listen="127.0.0.1:0")})
    app = App(config, adapters={"matrix": MatrixAdapter}, tick_seconds=3600)
    await app.start()  # returns once the first sync is handled
    try:
        assert app.observability is not None
        base = app.observability.base_url
        status, body = await get(base, "/healthz")
        assert status == 200, body
        assert body["platforms"]["matrix"]["ok"] is True
        assert "last successful sync" in body["platforms"]["matrix"]["detail"]
        first = await sync_age(base)
        assert first is not None and first < 90

        # Idle, the bot long-polls for 30 s: with a bound of half a second it soon counts as
        # out of touch, and /healthz says so.
        app.observability.monitor.sync_max_age = 0.5

        async def unavailable() -> Any:
            status, body = await get(base, "/healthz")
            return body if status == 503 else None

        body = await until(unavailable, "/healthz 503 once the last sync is too old")
        assert body["platforms"]["matrix"]["ok"] is False
        assert "last successful sync" in body["platforms"]["matrix"]["detail"]
        assert body["database"]["ok"] is True
        before = await sync_age(base)
        assert before is not None and before > 0.5

        # A message in the room ends the long poll: the new sync is noted, the age drops.
        await mod.send(room_id, "bonjour")

        async def younger() -> bool:
            age = await sync_age(base)
            return age is not None and age < before

        await until(younger, "a new sync to be noted")
        app.observability.monitor.sync_max_age = 90.0
        assert (await get(base, "/healthz"))[0] == 200
    finally:
        await app.stop()
