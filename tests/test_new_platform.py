"""A front-end the bot does not ship, added from outside ``bot/``: the platform registry is the
only seam. The in-memory platform below registers its settings, its channel model and its
adapter; the configuration accepts it, ``check-config`` knows it, and a whole round runs
through it (announcement, positions, votes, close, summary)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import pytest
from config_support import UNSET_SECRET_ENV
from pydantic import Field

from bot.app import Adapter, App
from bot.config import ConfigError, load_config
from bot.events import ChannelRef, Incoming, PostKind, Reply, RoundPost
from bot.platforms import (
    REGISTRY,
    AdapterContext,
    ChannelSettings,
    Platform,
    PlatformSettings,
)
from bot.readiness import platform_problems

ROOM = ChannelRef("memory", "agora")


class MemorySettings(PlatformSettings):
    moderators: list[str] = Field(default_factory=list)


class MemoryChannel(ChannelSettings):
    platform: Literal["memory"]
    room: str

    @property
    def key(self) -> str:
        return self.room


class MemoryAdapter:
    """Everything a chat platform does, in a list: posts received, replies given."""

    platform = "memory"

    def __init__(self, context: AdapterContext[MemorySettings]) -> None:
        self.settings = context.settings
        self.commands = context.commands
        self.posts: list[tuple[ChannelRef, RoundPost]] = []
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def moderates(self, user_id: str, channel: ChannelRef) -> bool:
        return channel == ROOM and user_id in self.settings.moderators

    async def publish(self, channel: ChannelRef, post: RoundPost) -> None:
        self.posts.append((channel, post))

    async def say(self, user: str, text: str, *, private: bool = True) -> str:
        msg = Incoming(
            platform="memory",
            user_id=user,
            text=text,
            channel=None if private else ROOM,
            shared_channels=(ROOM,),
        )
        replies: list[Reply] = await self.commands.handle(msg)
        return "\n".join(reply.text for reply in replies)


def _make(context: AdapterContext[MemorySettings]) -> Adapter:
    return MemoryAdapter(context)


def _readiness(settings: MemorySettings, used: set[str], env: Mapping[str, str]) -> list[str]:
    del env
    problems = [] if settings.moderators else ["no moderator: set platforms.memory.moderators"]
    if "memory" not in used:
        problems.append("no debate posts to memory")
    return problems


@pytest.fixture
def memory_platform() -> Iterator[None]:
    REGISTRY.register(Platform("memory", MemorySettings, MemoryChannel, _make, _readiness))
    try:
        yield
    finally:
        REGISTRY.unregister("memory")


def write(tmp_path: Path, platforms: str, channel: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
language: fr
data_dir: {tmp_path / "data"}
anonymity: {{secret_env: {UNSET_SECRET_ENV}, min_group_size: 3}}
platforms:
  console: {{enabled: false}}
{platforms}
debates:
  - id: capitalisme-numerique
    title: "Le capitalisme numérique"
    pack: progressive-alliance-2018
    schedule: {{manual: true}}
    round_duration: 1h
    stances: [pour, contre, nuance, abstention]
    channels:
      - {channel}
""",
        encoding="utf-8",
    )
    return path


def test_without_registration_the_platform_is_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, "  memory: {enabled: true}", "{platform: memory, room: agora}")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "platforms.memory: unknown key" in text
    assert "debates[0].channels[0]" in text and "memory" in text


def test_registered_settings_and_channels_are_validated_and_located(
    tmp_path: Path, memory_platform: None
) -> None:
    path = write(tmp_path, "  memory: {enabled: true, modrators: [mod]}", "{platform: memory}")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert (
        "config.yaml:7 platforms.memory.modrators: unknown key (did you mean 'moderators'?)"
        in (lines)
    )
    assert any(line.startswith("config.yaml:16 debates[0].channels[0].room:") for line in lines)


def test_check_config_asks_the_platform_itself(tmp_path: Path, memory_platform: None) -> None:
    path = write(tmp_path, "  memory: {enabled: true}", "{platform: memory, room: agora}")
    config = load_config(path)
    assert config.platforms.enabled() == ["memory"]
    assert platform_problems(config, {}) == {
        "memory": ["no moderator: set platforms.memory.moderators"]
    }


async def test_a_whole_round_through_a_platform_registered_from_outside(
    tmp_path: Path, memory_platform: None
) -> None:
    path = write(
        tmp_path, "  memory: {enabled: true, moderators: [mod]}", "{platform: memory, room: agora}"
    )
    config = load_config(path)
    app = App(config, tick_seconds=3600)
    assert list(app.adapters) == ["memory"]
    adapter = app.adapters["memory"]
    assert isinstance(adapter, MemoryAdapter)
    await app.start()
    try:
        assert adapter.started
        # A member cannot open a round; the moderator can, from the round's room.
        assert "ouvert" not in await adapter.say("eve", "!debat ouvrir capitalisme-numerique")
        assert "ouvert" in await adapter.say(
            "mod", "!debat ouvrir capitalisme-numerique", private=False
        )
        await app.publisher.deliver()
        (opened,) = app.engine.open_rounds()
        stances = opened.stances
        members = ["ana", "bo", "cy", "di"]
        for i, member in enumerate(members):
            await adapter.say(member, f"!position {stances[i % 2]} Argument numéro {i}.")
        for member in members:
            prompt = await adapter.say(member, "!voter")
            while "Répondez" in prompt:
                prompt = await adapter.say(member, "1")
        assert "fermé" in await adapter.say("mod", "!debat fermer", private=False)
        await app.publisher.deliver()
    finally:
        await app.stop()
    kinds = [post.kind for channel, post in adapter.posts if channel == ROOM]
    assert kinds[0] == PostKind.ANNOUNCEMENT
    assert PostKind.SUMMARY in kinds
    summary = next(post for _, post in adapter.posts if post.kind == PostKind.SUMMARY)
    assert "Participants : 4." in summary.text
    assert "Argument numéro" in summary.text
