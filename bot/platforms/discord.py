"""Discord, through discord.py (imported only when the platform is enabled)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

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
    # Sharding (docs/operating.md, "Scaling out"): Discord splits the bot's servers among
    # shard_count gateway connections; each process holds the shards in shard_ids (all of
    # them when unset), or those its environment variable shard_ids_env names ("0,2").
    shard_count: int | None = Field(None, ge=1, le=1024)
    shard_ids: list[int] | None = None
    shard_ids_env: str = "DEBATE_BOT_DISCORD_SHARD_IDS"

    _check_env = field_validator("token_env", "shard_ids_env")(env_name)

    @model_validator(mode="after")
    def _shards(self) -> DiscordConfig:
        if self.shard_ids is not None:
            check_shards(self.shard_ids, self.shard_count, "shard_ids")
        return self

    def shards(self, env: Mapping[str, str]) -> tuple[int | None, list[int] | None]:
        """``(shard_count, shard_ids)`` for this process (``shard_ids_env`` wins over
        ``shard_ids``); ValueError with the reason when the environment's value is wrong."""
        raw = env.get(self.shard_ids_env, "").strip()
        if not raw:
            return self.shard_count, self.shard_ids
        try:
            ids = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise ValueError(
                f"{self.shard_ids_env}={raw!r}: give shard numbers separated by commas, e.g. 0,2"
            ) from None
        check_shards(ids, self.shard_count, self.shard_ids_env)
        return self.shard_count, ids


def check_shards(ids: list[int], count: int | None, where: str) -> None:
    """Shard ids name distinct shards below ``shard_count`` (which they need)."""
    if count is None:
        raise ValueError(f"{where} needs platforms.discord.shard_count")
    if not ids:
        raise ValueError(f"{where} is empty: name at least one shard")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where} names a shard twice")
    wrong = [i for i in ids if not 0 <= i < count]
    if wrong:
        raise ValueError(f"{where}: shard {wrong[0]} is not between 0 and {count - 1}")


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
    try:
        settings.shards(env)
    except ValueError as exc:
        found.append(str(exc))
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
