"""Sharding: the bot over several gateway connections, each server's events and clicks on
the shard Discord gives it (``(guild_id >> 22) % shard_count``)."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from discord_support import TOKEN_ENV, Launch, debate, discord_config, recorded
from fake_discord import (
    CHANNEL_B_ID,
    CHANNEL_ID,
    GUILD_B_ID,
    GUILD_ID,
    MODERATOR_ROLE_ID,
    FakeDiscord,
    Member,
)
from test_discord_guilds import announced, b_debate

from bot.adapters.discord import DiscordAdapter, ShardedDebateBot
from bot.app import App, PlatformStartError
from bot.config import Config, ConfigError, load_config


@pytest.fixture(autouse=True)
def quick_identify(monkeypatch: pytest.MonkeyPatch) -> None:
    # Discord makes shards IDENTIFY 5 s apart; the fake does not.
    monkeypatch.setattr(ShardedDebateBot, "identify_delay", 0.0)


def sharded_config(data_dir: Path, **discord: Any) -> Config:
    return discord_config(
        data_dir,
        platforms={
            "console": {"enabled": False},
            "discord": {
                "enabled": True,
                "token_env": TOKEN_ENV,
                "guild_ids": [GUILD_ID, GUILD_B_ID],
                "moderator_role_ids": [MODERATOR_ROLE_ID],
                **discord,
            },
        },
        debates=[debate(), b_debate()],
    )


async def identified(fake: FakeDiscord, count: int) -> None:
    for _ in range(500):
        if len(fake.identifies) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(fake.identifies)} IDENTIFY, expected {count}")


def announcement(fake: FakeDiscord, channel_id: int) -> dict[str, Any]:
    (message,) = [m for m in fake.channel_messages(channel_id) if m["embeds"] and m["components"]]
    return copy.deepcopy(message)


async def test_one_process_holding_both_shards_serves_both_servers(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    app = await launch(sharded_config(tmp_path / "data", shard_count=2))
    await identified(fake, 2)
    assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
    assert fake.shard_of(GUILD_ID) != fake.shard_of(GUILD_B_ID)
    # Commands are registered once per server, by the process holding shard 0.
    registered = [c for c in fake.calls if c.method == "PUT" and c.path.endswith("/commands")]
    assert len(registered) == 2
    rounds = [await app.engine.open_round(d.id) for d in app.config.debates]
    await announced(fake, rounds[0].code, CHANNEL_ID)
    await announced(fake, rounds[1].code, CHANNEL_B_ID)
    alice = Member(fake, "alice")
    voisin = Member(fake, "voisin", guild_id=GUILD_B_ID)
    clicked_a = await alice.click(
        announcement(fake, CHANNEL_ID), f"debat:stance:{rounds[0].id}:profit"
    )
    assert clicked_a.content.startswith(recorded(app, rounds[0].id, "profit"))
    stance_b = app.engine.open_round_by_id(rounds[1].id)
    assert stance_b is not None
    first = stance_b.stances[0]
    clicked_b = await voisin.click(
        announcement(fake, CHANNEL_B_ID), f"debat:stance:{rounds[1].id}:{first}"
    )
    assert clicked_b.content.startswith(recorded(app, rounds[1].id, first))
    assert [await app.engine.participation(r.id) for r in rounds] == [1, 1]


async def test_a_process_holding_one_shard_from_its_environment(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard_a = (GUILD_ID >> 22) % 2
    assert shard_a != 0, "guild A must not be on shard 0 for this test"
    monkeypatch.setenv("DEBATE_BOT_DISCORD_SHARD_IDS", str(shard_a))
    app = await launch(sharded_config(tmp_path / "data", shard_count=2, shard_ids=[0, 1]))
    await identified(fake, 1)
    assert [tuple(i["shard"]) for i in fake.identifies] == [(shard_a, 2)]
    # Not holding shard 0: another process registers the commands.
    assert not [c for c in fake.calls if c.method == "PUT" and c.path.endswith("/commands")]
    r = await app.engine.open_round(app.config.debates[0].id)
    await announced(fake, r.code, CHANNEL_ID)
    clicked = await Member(fake, "alice").click(
        announcement(fake, CHANNEL_ID), f"debat:stance:{r.id}:nuance"
    )
    assert clicked.content.startswith(recorded(app, r.id, "nuance"))


async def test_a_wrong_shard_in_the_environment_fails_the_start_clearly(
    fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEBATE_BOT_DISCORD_SHARD_IDS", "0,5")
    app = App(
        sharded_config(tmp_path / "data", shard_count=2),
        adapters={"discord": DiscordAdapter},
        tick_seconds=3600,
    )
    with pytest.raises(PlatformStartError) as raised:
        await app.start()
    assert "DEBATE_BOT_DISCORD_SHARD_IDS: shard 5 is not between 0 and 1" in str(
        raised.value.__cause__
    )
    await app.stop()
    assert fake.identifies == []


@pytest.mark.parametrize(
    ("discord", "error"),
    [
        ("shard_ids: [0]", "shard_ids needs platforms.discord.shard_count"),
        ("shard_count: 2\n    shard_ids: [2]", "shard_ids: shard 2 is not between 0 and 1"),
        ("shard_count: 2\n    shard_ids: [1, 1]", "shard_ids names a shard twice"),
        ("shard_count: 0", "shard_count"),
    ],
)
def test_shards_in_the_config_file_are_checked(tmp_path: Path, discord: str, error: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "platforms:\n  console: {enabled: false}\n  discord:\n    enabled: true\n"
        f"    {discord}\ndebates: []\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert error in str(raised.value)
    assert "config.yaml:" in str(raised.value)


async def until(check: Any, what: str, within: float = 15.0) -> Any:
    for _ in range(int(within / 0.05)):
        found = await check() if asyncio.iscoroutinefunction(check) else check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
async def test_two_processes_one_shard_each_and_a_failover(
    fake: FakeDiscord, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes on one PostgreSQL, each holding one shard: each answers the clicks of
    its server, the leader posts in both; when the leader stops, the other takes over and
    edits the announcements the first one posted (their ids are in the database)."""
    apps: list[App] = []
    try:
        for shard in (0, 1):
            monkeypatch.setenv("DEBATE_BOT_DISCORD_SHARD_IDS", str(shard))
            config = sharded_config(tmp_path / f"data{shard}", shard_count=2)
            config = config.model_copy(
                update={"database_url": pg_url, "leader_lease": timedelta(seconds=3)}
            )
            app = App(config, adapters={"discord": DiscordAdapter}, tick_seconds=3600)
            await app.start()
            apps.append(app)
        await identified(fake, 2)
        first, second = apps
        assert first.leading and not second.leading
        rounds = [await first.engine.open_round(d.id) for d in first.config.debates]
        await announced(fake, rounds[0].code, CHANNEL_ID)
        await announced(fake, rounds[1].code, CHANNEL_B_ID)
        # Guild A is on shard 1: its member's click reaches the second process, which sees
        # the round the leader opened (after its next lease tick) and records the stance.
        await until(lambda: second.engine.open_rounds(), "the follower to see the rounds")
        alice = Member(fake, "alice")
        clicked = await alice.click(
            announcement(fake, CHANNEL_ID), f"debat:stance:{rounds[0].id}:profit"
        )
        assert clicked.content.startswith(recorded(second, rounds[0].id, "profit"))
        assert await first.engine.participation(rounds[0].id) == 1

        await first.stop()
        apps.remove(first)
        await until(lambda: second.leading, "the second process to lead")
        mark = len(fake.calls)
        await second.engine.close_round(rounds[1].id)

        # The announcement in guild B (the first process posted it) loses its buttons.
        def edited() -> bool:
            message = announcement_or_none(fake, CHANNEL_B_ID)
            return any(
                c.method == "PATCH" and c.path.startswith(f"/channels/{CHANNEL_B_ID}/messages/")
                for c in fake.calls[mark:]
            ) and (message is None or not message["components"])

        await until(edited, "the announcement of guild B edited by the new leader")
        await fake.wait_for(
            lambda c: (
                c.method == "POST"
                and c.path == f"/channels/{CHANNEL_B_ID}/messages"
                and "Synthèse" in str(c.body)
            ),
            after=mark,
        )
    finally:
        for app in apps:
            await app.stop()


def announcement_or_none(fake: FakeDiscord, channel_id: int) -> dict[str, Any] | None:
    found = [m for m in fake.channel_messages(channel_id) if m["embeds"]]
    return found[0] if found else None
