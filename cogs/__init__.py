"""discord.py extensions of the Discord adapter (``bot.adapters.discord``).

``cogs.debate`` holds what members use (the ``/debat`` member commands, the announcement's
buttons, the argument modal, the vote prompts); ``cogs.moderation`` what moderators use. Both
add their commands to one shared ``/debat`` group. The cogs are thin: they turn an interaction
into a use-case call (``bot.usecases``) and its result into a private answer.

A click on a component (a button, the moderation panel's select) is dispatched by one listener,
:meth:`DebatCog.on_component`, which each cog registers for its own component classes: it
matches the click's custom id against their templates and runs the handler of the one that
matches. discord.py could dispatch these ``DynamicItem`` s itself, but for every click it
rebuilds the whole view of the clicked message (seven buttons and more) to find the one clicked.
So the classes are not registered with it, and the views the bot sends are
:class:`ComponentView` s, which discord.py does not keep (keeping one would register its items'
classes again, and a click would be answered twice).

Custom ids are seen by every member's client: they carry a round id and public values (a
stance, an argument's public number, a page), never an argument's database id. Log lines never
carry who did what: no user, no interaction token, no member text (an exception is logged by its
types and frames only, see :func:`bot.adapters.discord.failure`).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import (
    DebateBot,
    DiscordAdapter,
    adapter_of,
    answer,
    failure,
    fit,
    localized,
    outage_answer,
)
from bot.usecases import Actor, Choice

log = logging.getLogger(__name__)
CogT = TypeVar("CogT", bound=commands.Cog)
CallbackT = TypeVar("CallbackT", bound=Callable[..., Awaitable[None]])


def loaded_cog(interaction: discord.Interaction[Any], cls: type[CogT]) -> CogT:
    """The loaded instance of ``cls`` (components find their cog through the client)."""
    client = interaction.client
    cog = client.get_cog(cls.__name__) if isinstance(client, DebateBot) else None
    if not isinstance(cog, cls):
        raise RuntimeError(f"the extension providing {cls.__name__} is not loaded")
    return cog


GROUP_NAME = "debat"
ItemT = TypeVar("ItemT", bound=discord.ui.Item[Any])


class CustomIdItem(discord.ui.DynamicItem[ItemT], template=r"debat:(?!)"):
    """A persistent component known by its custom id alone (after a restart too): each subclass
    brings its template and :meth:`clicked`. This base template can never match.

    The classes build the components the bot sends (in a :class:`ComponentView`); a click on
    one is dispatched by :meth:`DebatCog.on_component`, never by discord.py.
    """

    # The type of component a click on it reports (``component_type`` in the interaction).
    kind = discord.ComponentType.button

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        """The cog handler a click on this component runs, from its custom id's ``match``."""
        raise NotImplementedError


class ComponentView(discord.ui.View):
    """A view of :class:`CustomIdItem` s, as the bot sends them (without a timeout)."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_finished(self) -> bool:
        # discord.py keeps a view it sends, and registers the classes of its dynamic items to
        # dispatch their clicks itself (a second answer to each), only while it is not finished.
        return True


async def guarded(interaction: discord.Interaction[Any], action: Awaitable[None]) -> None:
    """Run a component handler; if it fails unexpectedly the member still gets an answer
    instead of a button that "thinks" forever."""
    try:
        await action
    except Exception as exc:
        adapter = adapter_of(interaction)
        text = outage_answer(adapter, exc)
        if text is None:
            log.error("a component interaction could not be handled: %s", failure(exc))
        with contextlib.suppress(discord.HTTPException):
            await answer(interaction, text or adapter.texts("error"))


def debat_group(tree: app_commands.CommandTree[Any]) -> app_commands.Group:
    """The ``/debat`` group, created on first use."""
    existing = tree.get_command(GROUP_NAME)
    if isinstance(existing, app_commands.Group):
        return existing
    group = app_commands.Group(
        name=localized("command_debat"),
        description=localized("command_debat_help"),
        guild_only=True,
    )
    tree.add_command(group)
    return group


def subcommand(
    name: str,
    options: Mapping[str, str] | None = None,
    *,
    autocomplete: Mapping[str, Any] | None = None,
    choices: Mapping[str, list[app_commands.Choice[str]]] | None = None,
) -> Callable[[CallbackT], app_commands.Command[Any, ..., None]]:
    """A ``/debat`` subcommand named and described by the catalogue (``command_<name>``,
    ``command_<name>_help``), each parameter in ``options`` renamed and described by its
    option's entries (``option_<option>``, ``option_<option>_help``)."""
    options = options or {}

    def build(callback: CallbackT) -> app_commands.Command[Any, ..., None]:
        decorated: Any = callback
        if options:
            renames = {param: localized(f"option_{o}") for param, o in options.items()}
            helps = {param: localized(f"option_{o}_help") for param, o in options.items()}
            decorated = app_commands.describe(**helps)(app_commands.rename(**renames)(decorated))
        if choices:
            decorated = app_commands.choices(**choices)(decorated)
        if autocomplete:
            decorated = app_commands.autocomplete(**autocomplete)(decorated)
        command: app_commands.Command[Any, ..., None] = app_commands.command(
            name=localized(f"command_{name}"), description=localized(f"command_{name}_help")
        )(decorated)
        return command

    return build


def suggestions(found: list[Choice]) -> list[app_commands.Choice[str]]:
    """Use-case suggestions as Discord autocomplete choices (names within Discord's limit)."""
    return [app_commands.Choice(name=fit(c.label, 100), value=c.value) for c in found]


class DebatCog(commands.Cog):
    """A cog whose application commands are subcommands of the shared ``/debat`` group.

    Load it with ``bot.add_cog(cog, override=True)``: discord.py registers the root of each
    command with the tree, and the root is the group the first cog already registered.
    """

    # The component classes whose clicks this cog answers (their templates do not overlap).
    components: tuple[type[CustomIdItem[Any]], ...] = ()

    def __init__(self, bot: DebateBot) -> None:
        self.bot = bot
        self.adapter: DiscordAdapter = bot.adapter
        self.cases = bot.adapter.cases
        self.m = bot.adapter.messages
        self.t = bot.adapter.texts

    async def cog_load(self) -> None:
        group = debat_group(self.bot.tree)
        for command in self.get_app_commands():
            group.add_command(command)

    async def cog_unload(self) -> None:
        group = debat_group(self.bot.tree)
        for command in self.__cog_app_commands__:
            group.remove_command(command.name)
        if not group.commands:
            self.bot.tree.remove_command(GROUP_NAME)

    def actor(self, interaction: discord.Interaction[Any]) -> Actor:
        return self.adapter.actor(interaction)

    @commands.Cog.listener("on_interaction")
    async def on_component(self, interaction: discord.Interaction[Any]) -> None:
        """A click on one of :attr:`components`, recognised by its custom id and the type of
        component clicked; any other interaction, or custom id, is left alone."""
        if interaction.type is not discord.InteractionType.component:
            return
        data: Mapping[str, Any] = interaction.data or {}
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str):
            return
        for cls in self.components:
            match = cls.__discord_ui_compiled_template__.fullmatch(custom_id)
            if match is not None:
                if data.get("component_type") == cls.kind.value:
                    await guarded(interaction, cls.clicked(interaction, match))
                return


__all__ = [
    "ComponentView",
    "CustomIdItem",
    "DebatCog",
    "debat_group",
    "guarded",
    "subcommand",
    "suggestions",
]
