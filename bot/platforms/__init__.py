"""The chat platforms the bot can serve, by name.

Each platform lives in its own package (its adapter under ``bot/adapters/``) and declares here
a :class:`Platform`: its settings model (``platforms.<name>``), its channel model (an entry of
a debate's ``channels``) and its adapter factory. The configuration's ``platforms`` section,
the union of channel models and the YAML error locations are derived from this registry, so
adding a platform is its package, one line below, and its documentation.
"""

from __future__ import annotations

from bot.platforms.base import (
    AdapterContext,
    AdapterFactory,
    ChannelSettings,
    Platform,
    PlatformSettings,
    Registry,
)

REGISTRY = Registry()


def _register_builtins() -> None:
    from bot.platforms import console, discord, matrix

    for module in (console, discord, matrix):
        REGISTRY.register(module.PLATFORM)


_register_builtins()

__all__ = [
    "REGISTRY",
    "AdapterContext",
    "AdapterFactory",
    "ChannelSettings",
    "Platform",
    "PlatformSettings",
    "Registry",
]
