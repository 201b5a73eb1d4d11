"""/healthz and /metrics of a running bot while the fake Discord drops its gateway and lets it
back: 200, then 503 saying the gateway is down, then 200 again once discord.py has resumed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp import web
from discord_support import TOKEN_ENV, discord_config
from fake_discord import FakeDiscord
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.discord import DiscordAdapter
from bot.app import App


class DroppingDiscord(FakeDiscord):
    """The fake Discord, whose gateway can go away: open sockets closed, new ones refused."""

    def __init__(self) -> None:
        self.gateway_refused = False
        super().__init__()  # routes /gateway to the _gateway below

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        if self.gateway_refused:
            raise web.HTTPServiceUnavailable()
        return await super()._gateway(request)

    async def drop_gateway(self) -> None:
        self.gateway_refused = True
        self.ready.clear()
        for ws in self._sockets:
            if not ws.closed:
                await ws.close()

    def restore_gateway(self) -> None:
        self.gateway_refused = False


@pytest.fixture
async def dropping(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DroppingDiscord]:
    server = DroppingDiscord()
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    server.token = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.token"
    monkeypatch.setenv(TOKEN_ENV, server.token)
    yield server
    await server.close()


async def get(base: str, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + path, timeout=aiohttp.ClientTimeout(total=10)) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def until(
    check: Callable[[], Any], what: str, within: float = 30.0, every: float = 0.05
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(every)


def connected(metrics: str) -> float:
    for family in text_string_to_metric_families(metrics):
        if family.name == "debate_bot_platform_connected":
            (sample,) = [s for s in family.samples if s.labels == {"platform": "discord"}]
            return sample.value
    raise AssertionError("no debate_bot_platform_connected family")


async def test_healthz_follows_the_discord_gateway(
    dropping: DroppingDiscord, tmp_path: Path
) -> None:
    config = discord_config(tmp_path / "data", observability={"listen": "127.0.0.1:0"})
    app = App(config, adapters={"discord": DiscordAdapter}, tick_seconds=3600)
    await app.start()
    try:
        await asyncio.wait_for(dropping.ready.wait(), timeout=10)
        assert app.observability is not None
        base = app.observability.base_url

        async def status_is(code: int) -> Any:
            status, body = await get(base, "/healthz")
            return body if status == code else None

        body = await until(lambda: status_is(200), "/healthz 200 once the gateway is ready")
        assert body["status"] == "ok"
        assert body["platforms"]["discord"] == {"ok": True, "detail": "gateway connected"}
        assert connected((await get(base, "/metrics"))[1]) == 1.0

        await dropping.drop_gateway()
        body = await until(lambda: status_is(503), "/healthz 503 once the gateway is dropped")
        assert body["status"] == "unavailable"
        assert body["database"]["ok"] is True
        assert body["platforms"]["discord"]["ok"] is False
        assert "disconnected" in body["platforms"]["discord"]["detail"]
        # Still down while the gateway refuses: discord.py is retrying with back-off.
        await asyncio.sleep(0.5)
        assert (await get(base, "/healthz"))[0] == 503
        assert connected((await get(base, "/metrics"))[1]) == 0.0

        resumes = len(dropping.resumes)
        dropping.restore_gateway()
        body = await until(lambda: status_is(200), "/healthz 200 again after the reconnection")
        assert body["platforms"]["discord"]["ok"] is True
        assert len(dropping.resumes) > resumes  # it came back by resuming its session
        assert connected((await get(base, "/metrics"))[1]) == 1.0
    finally:
        await app.stop()
