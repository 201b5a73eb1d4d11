"""Discord, through discord.py (imported only when the platform is enabled)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from bot.platforms.base import ChannelSettings, Platform, PlatformSettings
from bot.settings import env_name

if TYPE_CHECKING:
    from bot.app import Adapter
    from bot.platforms.base import AdapterContext


class DiscordConfig(PlatformSettings):
    token_env: str = "DISCORD_TOKEN"
    guild_ids: list[int] = Field(default_factory=list)
    moderator_role_ids: list[int] = Field(default_factory=list)
    sync_commands_globally: bool = False

    _check_env = field_validator("token_env")(env_name)


class DiscordChannel(ChannelSettings):
    platform: Literal["discord"]
    channel_id: int

    @property
    def key(self) -> str:
        return str(self.channel_id)


def _adapter(context: AdapterContext[DiscordConfig]) -> Adapter:
    from bot.adapters.discord import DiscordAdapter

    return DiscordAdapter(context)


def _readiness(settings: DiscordConfig, used: set[str], env: Mapping[str, str]) -> list[str]:
    found: list[str] = []
    if not env.get(settings.token_env, "").strip():
        found.append(
            f"the bot token is missing: set the environment variable {settings.token_env} "
            "(platforms.discord.token_env)"
        )
    if not settings.guild_ids and not settings.sync_commands_globally:
        found.append(
            "no server to register the /debat commands in: put your server's id in "
            "platforms.discord.guild_ids (or set sync_commands_globally: true)"
        )
    if "discord" not in used:
        found.append(
            "no debate posts to Discord: add {platform: discord, channel_id: …} to a "
            "debate's channels"
        )
    return found


PLATFORM = Platform("discord", DiscordConfig, DiscordChannel, _adapter, _readiness)
