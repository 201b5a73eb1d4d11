"""The console: a terminal (or a script on standard input) standing in for a chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from bot.platforms.base import ChannelSettings, Platform, PlatformSettings

if TYPE_CHECKING:
    from bot.app import Adapter
    from bot.platforms.base import AdapterContext


class ConsoleConfig(PlatformSettings):
    enabled: bool = True
    channel: str = "general"
    moderators: list[str] = Field(default_factory=list)


class ConsoleChannel(ChannelSettings):
    platform: Literal["console"]
    channel: str

    @property
    def key(self) -> str:
        return self.channel


def _adapter(context: AdapterContext[ConsoleConfig]) -> Adapter:
    from bot.adapters.console import ConsoleAdapter

    return ConsoleAdapter(context.settings, context.commands, context.export_dir)


PLATFORM = Platform("console", ConsoleConfig, ConsoleChannel, _adapter)
