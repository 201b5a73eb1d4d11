"""The console: a terminal (or a script on standard input) standing in for a chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from bot.platforms.base import ChannelSettings, Platform, PlatformSettings

if TYPE_CHECKING:
    from bot.app import Adapter, App


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


def _adapter(app: App) -> Adapter:
    from bot.adapters.console import ConsoleAdapter

    return ConsoleAdapter(app.config.platforms.of(ConsoleConfig), app.commands, app.export_dir)


PLATFORM = Platform("console", ConsoleConfig, ConsoleChannel, _adapter)
