"""discord.py extensions of the Discord adapter (``bot.adapters.discord``).

``cogs.debate`` holds what members use (the ``/debat`` member commands, the announcement's
buttons, the argument modal, the vote prompts); ``cogs.moderation`` what moderators use. Both
add their commands to one shared ``/debat`` group. The cogs are thin: they turn an interaction
into an engine call and the result into a private answer.

Custom ids are seen by every member's client: they carry a round id and public values (a
stance, an argument's public number, a page), never an argument's database id. Log lines never
carry who did what: no user, no interaction token, no member text (an exception is logged by its
types and frames only, see :func:`bot.adapters.discord.failure`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.adapters.discord import (
    DebateBot,
    DiscordAdapter,
    adapter_of,
    answer,
    channel_ref,
    failure,
    fit,
    outage_answer,
    refuse,
)
from bot.engine import EngineError, OpenRound

log = logging.getLogger(__name__)
CogT = TypeVar("CogT", bound=commands.Cog)


def loaded_cog(interaction: discord.Interaction[Any], cls: type[CogT]) -> CogT:
    """The loaded instance of ``cls`` (components find their cog through the client)."""
    client = interaction.client
    cog = client.get_cog(cls.__name__) if isinstance(client, DebateBot) else None
    if not isinstance(cog, cls):
        raise RuntimeError(f"the extension providing {cls.__name__} is not loaded")
    return cog


GROUP_NAME = "debat"


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
        name=locale_str(GROUP_NAME),
        description=locale_str("Débats citoyens : donner sa position, voter, consulter les tours"),
        guild_only=True,
    )
    tree.add_command(group)
    return group


class DebatCog(commands.Cog):
    """A cog whose application commands are subcommands of the shared ``/debat`` group.

    Load it with ``bot.add_cog(cog, override=True)``: discord.py registers the root of each
    command with the tree, and the root is the group the first cog already registered.
    """

    def __init__(self, bot: DebateBot) -> None:
        self.bot = bot
        self.adapter: DiscordAdapter = bot.adapter
        self.engine = bot.adapter.engine
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

    # ------------------------------------------------------------------ shared helpers

    def discord_rounds(self) -> list[OpenRound]:
        return [
            r
            for r in self.engine.open_rounds()
            if any(c.platform == "discord" for c in r.channels)
        ]

    def open_round(self, round_id: int) -> OpenRound:
        """The open round with this id; a closed one is refused with the engine's message."""
        r = self.engine.open_round_by_id(round_id)
        if r is None:
            raise EngineError("round_closed")
        return r

    def resolve(self, interaction: discord.Interaction[Any], code: str | None) -> OpenRound:
        """The open round a command is about: the ``tour`` option, else this channel's."""
        return self.engine.resolve_round(
            code.strip() if code and code.strip() else None,
            channel_ref(interaction),
            platform="discord",
        )

    async def deferred_round(
        self, interaction: discord.Interaction[Any], code: str | None
    ) -> OpenRound | None:
        """Acknowledge privately, then resolve the round; a refusal is answered and gives None."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            return self.resolve(interaction, code)
        except EngineError as err:
            await refuse(interaction, err)
            return None

    async def round_choices(
        self,
        interaction: discord.Interaction[Any],
        current: str,
        rounds: list[OpenRound] | None = None,
    ) -> list[app_commands.Choice[str]]:
        """Open rounds (by default every Discord one), this channel's first, filtered by what
        the member typed."""
        here = channel_ref(interaction)
        candidates = self.discord_rounds() if rounds is None else rounds
        rounds = sorted(candidates, key=lambda r: (here not in r.channels, r.id))
        needle = current.strip().lower()
        choices = []
        for r in rounds:
            question = self.engine.question_text(r.debate_id, r.question_id)
            if needle and needle not in r.code.lower() and needle not in question.lower():
                continue
            choices.append(
                app_commands.Choice(name=fit(f"{r.code} — {question}", 100), value=r.code)
            )
        return choices[:25]


__all__ = ["DebatCog", "debat_group", "guarded"]
