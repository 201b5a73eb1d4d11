"""Fixtures for the Discord tests: a fake Discord on 127.0.0.1, the config, running apps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import discord.gateway
import discord.http
import pytest
import yarl
from discord_support import TOKEN_ENV, Launch, discord_config
from fake_discord import (
    ADMINISTRATOR,
    GUILD_B_ID,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    MODERATOR_ROLE_B_ID,
    MODERATOR_ROLE_ID,
    FakeDiscord,
    Member,
)

import bot.adapters.discord as discord_adapter
from bot.adapters.discord import DiscordAdapter
from bot.app import App
from bot.config import Config


@pytest.fixture(autouse=True)
def roomy_answer_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a click is answered in one response or deferred depends on how fast its write
    is: the tests give it room, so that a loaded machine does not turn one into the other."""
    monkeypatch.setattr(discord_adapter, "ANSWER_BUDGET", 2.0)
    monkeypatch.setattr(discord_adapter, "DEFER_BY_AGE", 2.5)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return discord_config(tmp_path / "data")


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """Discord's REST API and gateway on 127.0.0.1, with discord.py pointed at them."""
    server = FakeDiscord()
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    server.token = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.token"
    monkeypatch.setenv(TOKEN_ENV, server.token)
    yield server
    await server.close()


@pytest.fixture
async def launch(fake: FakeDiscord) -> AsyncIterator[Launch]:
    """Starts an App with the Discord adapter (login, command sync, gateway); stops it after."""
    running: list[App] = []

    async def start(config: Config) -> App:
        fake.ready.clear()
        app = App(config, adapters={"discord": DiscordAdapter}, tick_seconds=3600)
        await app.start()
        running.append(app)
        await asyncio.wait_for(fake.ready.wait(), timeout=10)
        return app

    yield start
    for app in running:
        adapter = app.adapters["discord"]
        assert isinstance(adapter, DiscordAdapter)
        if not adapter.bot.is_closed():
            await app.stop()


@pytest.fixture
def members(fake: FakeDiscord) -> dict[str, Member]:
    """Four members, a moderator by role, a manager by permission, all in the guild."""
    return {
        "alice": Member(fake, "alice"),
        "bob": Member(fake, "bob"),
        "carol": Member(fake, "carol"),
        "dave": Member(fake, "dave", locale="en-US"),
        "modo": Member(fake, "modo", roles=(MODERATOR_ROLE_ID,)),
        "gerante": Member(fake, "gerante", permissions=MEMBER_PERMISSIONS | MANAGE_GUILD),
    }


@pytest.fixture
def outsiders(fake: FakeDiscord) -> dict[str, Member]:
    """Moderators of guild B, which also has the bot: by Manage Server, by Administrator, and
    by a moderator role of guild B (listed in ``moderator_role_ids`` by the tests that use it)."""
    return {
        "manager": Member(
            fake, "voisin", guild_id=GUILD_B_ID, permissions=MEMBER_PERMISSIONS | MANAGE_GUILD
        ),
        "admin": Member(
            fake, "voisine", guild_id=GUILD_B_ID, permissions=MEMBER_PERMISSIONS | ADMINISTRATOR
        ),
        "role": Member(fake, "voisinage", guild_id=GUILD_B_ID, roles=(MODERATOR_ROLE_B_ID,)),
    }
