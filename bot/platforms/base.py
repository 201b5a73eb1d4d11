"""What a chat platform registers: its settings, its channel model and its adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.app import Adapter
    from bot.commands import TextCommands
    from bot.config import DebateConfig
    from bot.i18n import Messages
    from bot.ports import RoundsView
    from bot.postrefs import PostRefs
    from bot.usecases import UseCases


class PlatformSettings(Settings):
    """``platforms.<name>`` in ``config.yaml``; every platform has at least ``enabled``."""

    enabled: bool = False


class ChannelSettings(Settings):
    """One entry of a debate's ``channels``: ``platform: <name>`` and where to post."""

    platform: str

    @property
    def key(self) -> str:
        """The channel's id on its platform, as stored with the round."""
        raise NotImplementedError


S = TypeVar("S", bound=PlatformSettings)


@dataclass(frozen=True)
class AdapterContext(Generic[S]):
    """What an adapter is built from: its own settings and the core's narrow faces, never the
    whole application."""

    settings: S
    # Text commands (console, Matrix): parse a message, run it, render the replies.
    commands: TextCommands
    # The use-cases themselves, for front-ends with their own widgets (Discord's components).
    cases: UseCases
    # The rounds as the core sees them: open rounds, listed rounds, a round's posts.
    rounds: RoundsView
    messages: Messages
    data_dir: Path
    # The configured debates, as of now (a reload replaces them).
    debates: Callable[[], Sequence[DebateConfig]]
    # The ids of the adapter's own messages, shared by every process on the database (None
    # only where an adapter is built without one, in unit tests).
    refs: PostRefs | None = None

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "exports"


AdapterFactory = Callable[[AdapterContext[Any]], "Adapter"]
# What keeps an enabled platform from starting, knowable without connecting: its settings,
# the platforms the debates post to, the environment. One line per problem.
ReadinessCheck = Callable[[S, set[str], Mapping[str, str]], list[str]]


def _always_ready(settings: Any, used: set[str], env: Mapping[str, str]) -> list[str]:
    del settings, used, env
    return []


@dataclass(frozen=True)
class Platform(Generic[S]):
    """A chat platform: its ``platforms.<name>`` settings model, the model of its channels
    (whose ``platform`` field is ``Literal[name]``), and how its adapter is built (imported
    only when the platform is enabled, so a config never loads a chat library it does not
    use)."""

    name: str
    settings: type[S]
    channel: type[ChannelSettings]
    adapter: AdapterFactory
    readiness: ReadinessCheck[S] = _always_ready


class Registry:
    """The platforms the bot knows, in registration order (the order ``enabled`` lists)."""

    def __init__(self) -> None:
        self._platforms: dict[str, Platform[Any]] = {}
        self._listeners: list[Callable[[], None]] = []

    def register(self, platform: Platform[Any]) -> None:
        """Add (or replace) a platform; the configuration models are rebuilt to accept it."""
        self._platforms[platform.name] = platform
        for listener in self._listeners:
            listener()

    def unregister(self, name: str) -> None:
        self._platforms.pop(name, None)
        for listener in self._listeners:
            listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def get(self, name: str) -> Platform[Any] | None:
        return self._platforms.get(name)

    def names(self) -> list[str]:
        return list(self._platforms)

    def __iter__(self) -> Iterator[Platform[Any]]:
        return iter(list(self._platforms.values()))
