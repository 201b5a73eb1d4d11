"""Starting the Discord adapter: login, intents, command sync, reconnects, configuration."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import discord
import pytest
import sqlalchemy as sa
from discord_support import DEBATE, TOKEN_ENV, Launch, discord_config, stop
from fake_discord import APP_ID, CHANNEL_ID, GUILD_ID, FakeDiscord, Member

from bot.adapters.discord import (
    ANNOUNCEMENTS_FILE,
    BOT_PERMISSIONS,
    DiscordAdapter,
    DiscordConfigError,
    invite_url,
)
from bot.app import App, PlatformStartError
from bot.config import Config
from bot.db import Database
from bot.i18n import CATALOGUES
from bot.models import table

GUILDS_INTENT = 1 << 0


def command_puts(fake: FakeDiscord) -> list[str]:
    return [c.path for c in fake.calls if c.method == "PUT" and c.path.endswith("/commands")]


async def test_start_logs_in_identifies_without_privileged_intents(
    fake: FakeDiscord, launch: Launch, config: Config
) -> None:
    await launch(config)
    paths = [(c.method, c.path) for c in fake.calls]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    assert len(fake.identifies) == 1
    # The guilds intent only: no members, no presences, no message content, no messages at all.
    assert fake.identifies[0]["intents"] == GUILDS_INTENT


async def test_commands_are_synced_once_per_guild_at_login(
    fake: FakeDiscord, launch: Launch, config: Config
) -> None:
    app = await launch(config)
    assert command_puts(fake) == [f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"]
    # A gateway reconnect (on_ready and friends fire again) does not sync again.
    await fake.reconnect()
    await fake.ready.wait()
    await fake.settle()
    assert len(fake.resumes) == 1
    assert command_puts(fake) == [f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"]
    await stop(app)


async def test_global_sync_only_when_asked(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    config = discord_config(
        tmp_path / "data",
        platforms={
            "console": {"enabled": False},
            "discord": {
                "enabled": True,
                "token_env": TOKEN_ENV,
                "guild_ids": [],
                "sync_commands_globally": True,
            },
        },
    )
    await launch(config)
    assert command_puts(fake) == [f"/applications/{APP_ID}/commands"]


def _localisable(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = [node]
    for option in node.get("options") or []:
        out.extend(_localisable(option))
    for choice in node.get("choices") or []:
        out.append(choice)
    return out


async def test_commands_are_localised_in_french_and_english(
    fake: FakeDiscord, launch: Launch, config: Config
) -> None:
    await launch(config)
    (root,) = fake.commands[GUILD_ID]
    assert root["name"] == "debat"
    assert root["name_localizations"]["en-US"] == "debate"
    subcommands = {o["name"]: o for o in root["options"]}
    assert set(subcommands) == {
        "position",
        "ma-position",
        "retirer",
        "voter",
        "rounds",
        "aide",
        "ouvrir",
        "fermer",
        "prolonger",
        "exporter",
        "moderation",
        "approuver",
    }
    assert subcommands["ma-position"]["name_localizations"]["en-GB"] == "my-position"
    assert subcommands["approuver"]["name_localizations"]["en-US"] == "approve"
    assert [o["name"] for o in subcommands["approuver"]["options"]] == ["numero", "tour"]
    assert subcommands["ouvrir"]["options"][0]["name_localizations"]["en-US"] == "debate"
    for node in _localisable(root):
        for key in ("name", "description"):
            if key not in node:
                continue
            localised = node.get(f"{key}_localizations") or {}
            assert localised.get("en-US"), f"{key} {node[key]!r} has no English"
            assert localised.get("fr") == node[key]
    command_keys = [
        k for k in CATALOGUES["en"] if k.startswith(("command_", "option_", "choice_"))
    ]
    assert command_keys and all(CATALOGUES["en"][k] for k in command_keys)


async def test_missing_token_is_a_clear_error(
    fake: FakeDiscord, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    app = App(config, adapters={"discord": DiscordAdapter}, tick_seconds=3600)
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    with pytest.raises(DiscordConfigError, match=TOKEN_ENV):
        adapter.token()
    with pytest.raises(PlatformStartError, match="discord could not start") as failed:
        await app.start()
    assert isinstance(failed.value.error, DiscordConfigError)
    await app.stop()
    assert fake.calls == []


async def test_a_wrong_token_stops_the_start_cleanly(
    fake: FakeDiscord, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    app = App(config, adapters={"discord": DiscordAdapter}, tick_seconds=3600)
    with pytest.raises(PlatformStartError) as failed:
        await app.start()
    assert isinstance(failed.value.error, discord.LoginFailure)
    await app.stop()
    assert [c.path for c in fake.calls] == ["/users/@me"]
    assert fake.identifies == []


async def test_help_is_private_and_lists_moderation_to_moderators(
    launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    await launch(config)
    plain = await members["alice"].slash("aide")
    assert plain.response_type == 4
    assert plain.ephemeral
    assert plain.final["allowed_mentions"] == {"parse": []}
    assert "/debat position" in plain.content
    assert "Modération" not in plain.content
    for name in ("modo", "gerante"):
        moderator = await members[name].slash("aide")
        assert "Modération" in moderator.content


def test_the_guide_gives_the_invite_link_the_bot_needs() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "discord.md").read_text()
    assert BOT_PERMISSIONS.value == 117760
    assert f"permissions={BOT_PERMISSIONS.value}" in guide
    url = invite_url(APP_ID)
    assert url.replace(str(APP_ID), "<APPLICATION_ID>") in guide
    for name in ("View Channels", "Send Messages", "Embed Links", "Attach Files"):
        assert f"| {name} |" in guide
    assert "| Read Message History |" in guide


async def test_an_older_bots_announcements_file_moves_into_the_database(
    fake: FakeDiscord, launch: Launch, config: Config
) -> None:
    """Message ids used to be kept in a file of the data directory: at start they move into
    the database (shared by every process), those of rounds that no longer exist dropped."""
    app = await launch(config)
    info = await app.engine.open_round(DEBATE)
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    for _ in range(200):
        if await adapter.announcements.get(info.id, CHANNEL_ID) is not None:
            break
        await asyncio.sleep(0.02)
    await stop(app)
    # As an older bot left it: no id in the database, the file in the data directory.
    db = Database(config.resolved_database_url())
    db.write_sync(lambda conn: conn.execute(sa.delete(table("post_ref"))))
    db.close()
    (config.data_dir / ANNOUNCEMENTS_FILE).write_text(
        json.dumps({f"{info.id}:{CHANNEL_ID}": 42, f"999:{CHANNEL_ID}": 43})
    )
    app = await launch(config)
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    assert await adapter.announcements.get(info.id, CHANNEL_ID) == 42
    assert await adapter.announcements.get(999, CHANNEL_ID) is None
    assert not (config.data_dir / ANNOUNCEMENTS_FILE).exists()
    post_ref = table("post_ref")
    rows = await app.db.read(
        lambda conn: list(conn.execute(sa.select(post_ref.c.key, post_ref.c.ref)))
    )
    assert [tuple(r) for r in rows] == [(f"discord:announcement:{info.id}:{CHANNEL_ID}", "42")]
