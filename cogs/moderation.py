"""What moderators use: open, close, extend, export, and hide, restore or approve arguments.

A command or a moderation button acts on a round (or opens a round of a debate) only for a
moderator *of the guild holding one of that round's (or debate's) channels*: the interaction
comes from that guild and the caller has Manage Server, Administrator or one of
``platforms.discord.moderator_role_ids`` there. Rights in any other guild that has the bot
count for nothing, whether the commands are registered globally or per guild. The check runs in
the bot on every command and every button (decided by ``bot.usecases`` from the one fact the
adapter supplies, :meth:`~bot.adapters.discord.DiscordAdapter.moderates_in`): Discord's own
command permissions can be changed by any server admin and are no guarantee.

Every refusal is the same ``not_moderator`` line. A target that cannot be found (an unknown
code or debate, no round to act on) is explained only to moderators of some debate's guild;
others get the same refusal, so that outsiders learn nothing about rounds from the answers.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import (
    DebateBot,
    answer,
    escape_member_text,
    fit,
    localized,
    refuse,
)
from bot.engine import EngineError
from bot.summary.export import export_format, export_format_names
from bot.usecases import ModerationListResult, RoundModeration
from cogs import ComponentView, CustomIdItem, DebatCog, loaded_cog, subcommand, suggestions

log = logging.getLogger(__name__)

PER_PAGE = 25  # a select menu holds at most 25 options
_ROUND = r"(?P<round>[0-9]{1,20})"
PICK_ID = re.compile(rf"debat:mod-pick:{_ROUND}:(?P<page>[0-9]{{1,6}})")
PAGE_ID = re.compile(rf"debat:mod-page:{_ROUND}:(?P<page>[0-9]{{1,6}})")
HIDE_ID = re.compile(rf"debat:mod-hide:{_ROUND}:(?P<number>[0-9]{{1,9}}):(?P<hidden>[01])")

Button = discord.ui.Button[discord.ui.View]
Select = discord.ui.Select[discord.ui.View]


def _cog(interaction: discord.Interaction[Any]) -> ModerationCog:
    return loaded_cog(interaction, ModerationCog)


class PickSelect(CustomIdItem[Select], template=PICK_ID):
    """Choose an argument of a page: ``debat:mod-pick:<round>:<page>`` (value: its number)."""

    kind = discord.ComponentType.select

    def __init__(
        self,
        round_id: int,
        page: int,
        options: list[discord.SelectOption] | None = None,
        placeholder: str | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"debat:mod-pick:{round_id}:{page}",
                options=options or [discord.SelectOption(label="-", value="0")],
                placeholder=placeholder,
                min_values=1,
                max_values=1,
            )
        )
        self.round_id, self.page = round_id, page

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        data: Mapping[str, Any] = interaction.data or {}
        values = data.get("values") or []
        first = str(values[0]) if values else ""
        number = int(first) if first.isdigit() else 0
        return _cog(interaction).on_pick(
            interaction, int(match["round"]), number, int(match["page"])
        )


class PageButton(CustomIdItem[Button], template=PAGE_ID):
    """Show a page of the argument list: ``debat:mod-page:<round>:<page>``."""

    def __init__(self, round_id: int, page: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or str(page + 1),
                style=discord.ButtonStyle.secondary,
                custom_id=f"debat:mod-page:{round_id}:{page}",
            )
        )
        self.round_id, self.page = round_id, page

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        return _cog(interaction).on_page(interaction, int(match["round"]), int(match["page"]))


class HideButton(CustomIdItem[Button], template=HIDE_ID):
    """Hide (1) or restore (0) an argument: ``debat:mod-hide:<round>:<number>:<0|1>``."""

    def __init__(self, round_id: int, number: int, hidden: bool, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or ("hide" if hidden else "restore"),
                style=discord.ButtonStyle.danger if hidden else discord.ButtonStyle.success,
                custom_id=f"debat:mod-hide:{round_id}:{number}:{int(hidden)}",
            )
        )
        self.round_id = round_id
        self.number = number
        self.hidden = hidden

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        return _cog(interaction).on_hide(
            interaction, int(match["round"]), int(match["number"]), match["hidden"] == "1"
        )


COMPONENTS: tuple[type[CustomIdItem[Any]], ...] = (PickSelect, PageButton, HideButton)

EXPORT_CHOICES = [
    app_commands.Choice(name=localized(export_format(fmt).label), value=fmt)
    for fmt in export_format_names()
]

# What a moderator command does with the round it acts on: the text to answer with, or None
# when it answered by itself.
RoundAction = Callable[[RoundModeration], Awaitable[str | None]]


class ModerationCog(DebatCog, name="ModerationCog"):
    """Moderator commands and the argument moderation panel.

    Who may act is decided by the use-cases (``bot.usecases``) from the round's (or debate's)
    own channels; the cog only renders their answers, a refusal included.
    """

    components = COMPONENTS

    # ------------------------------------------------------------------ rights over a round

    async def moderated_round(
        self, interaction: discord.Interaction[Any], code: str | None
    ) -> RoundModeration | None:
        """Acknowledge, then the open round a moderator command acts on, rights checked; a
        refusal is answered and gives None.

        Without a code: this channel's round, else the only open round of this guild; never
        a round of another guild (nor, when several are open, their codes).
        """
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            return await self.cases.moderated_round(self.actor(interaction), code)
        except EngineError as err:
            await refuse(interaction, err)
            return None

    async def allowed(
        self, interaction: discord.Interaction[Any], round_id: int
    ) -> RoundModeration | None:
        """Checked on every click, before anything is shown or changed; others get the
        refusal, privately."""
        try:
            return await self.cases.round_by_id(self.actor(interaction), round_id)
        except EngineError as err:
            await refuse(interaction, err)
            return None

    # ------------------------------------------------------------------ moderation panel

    async def on_pick(
        self, interaction: discord.Interaction[Any], round_id: int, number: int, page: int
    ) -> None:
        if moderated := await self.allowed(interaction, round_id):
            await self.show_argument(interaction, moderated, number, page)

    async def on_page(
        self, interaction: discord.Interaction[Any], round_id: int, page: int
    ) -> None:
        if moderated := await self.allowed(interaction, round_id):
            await interaction.response.defer()
            await self.show_list(interaction, moderated, page)

    async def on_hide(
        self, interaction: discord.Interaction[Any], round_id: int, number: int, hidden: bool
    ) -> None:
        if moderated := await self.allowed(interaction, round_id):
            await interaction.response.defer()
            await self.set_hidden(interaction, moderated, number, hidden)

    def status(self, hidden: bool, pending: bool = False) -> str:
        if pending and not hidden:
            return self.t("moderation_pending")
        return self.t("moderation_hidden" if hidden else "moderation_visible")

    def list_page(
        self, listed: ModerationListResult, page: int
    ) -> tuple[discord.Embed, discord.ui.View]:
        """One page of the argument list: the embed and its select menu (with the pages)."""
        r, arguments = listed.round, listed.arguments
        pages = max(1, math.ceil(len(arguments) / PER_PAGE))
        page = min(max(page, 0), pages - 1)
        lines = []
        options = []
        for argument in arguments[page * PER_PAGE : (page + 1) * PER_PAGE]:
            number, status = argument.number, self.status(argument.hidden, argument.pending)
            if argument.carried_from is not None:
                status += ", " + self.t("moderation_carried", code=argument.carried_from)
            flat = " ".join(argument.text.split())
            lines.append(f"• **{number}** ({status}) — {escape_member_text(fit(flat, 120))}")
            options.append(
                discord.SelectOption(
                    label=fit(f"{number} ({status})", 100),
                    value=str(number),
                    description=fit(flat, 100),
                )
            )
        header = self.t(
            "moderation_header", code=r.code, count=len(arguments), page=page + 1, pages=pages
        )
        embed = discord.Embed(title=fit(header, 256), description="\n".join(lines))
        view = ComponentView()
        view.add_item(PickSelect(r.id, page, options, self.t("moderation_pick")))
        if page > 0:
            view.add_item(PageButton(r.id, page - 1, self.t("button_previous")))
        if page + 1 < pages:
            view.add_item(PageButton(r.id, page + 1, self.t("button_next")))
        return embed, view

    async def show_list(
        self,
        interaction: discord.Interaction[Any],
        moderated: RoundModeration,
        page: int,
        notice: str = "",
    ) -> None:
        try:
            listed = await moderated.arguments()
        except EngineError as err:
            await refuse(interaction, err)
            return
        head = f"{notice}\n" if notice else ""
        if not listed.arguments:
            await answer(interaction, head + self.t("moderation_none", code=listed.round.code))
            return
        embed, view = self.list_page(listed, page)
        await answer(interaction, head + self.t("moderation_hint"), embed=embed, view=view)

    async def show_argument(
        self,
        interaction: discord.Interaction[Any],
        moderated: RoundModeration,
        number: int,
        page: int,
    ) -> None:
        await interaction.response.defer()
        try:
            found = await moderated.argument(number)
        except EngineError as err:
            await refuse(interaction, err)
            return
        body = (
            self.t(
                "moderation_argument",
                number=number,
                status=self.status(found.hidden, found.pending),
            )
            + "\n> "
            + escape_member_text(fit(found.text, 1500)).replace("\n", "\n> ")
        )
        view = ComponentView()
        round_id = moderated.round_id
        if found.hidden:
            view.add_item(HideButton(round_id, number, False, self.t("button_restore")))
        else:
            view.add_item(HideButton(round_id, number, True, self.t("button_hide")))
        view.add_item(PageButton(round_id, page, self.t("button_back")))
        await answer(interaction, body, view=view)

    async def set_hidden(
        self,
        interaction: discord.Interaction[Any],
        moderated: RoundModeration,
        number: int,
        hidden: bool,
    ) -> None:
        try:
            result = await moderated.set_hidden(number, hidden)
        except EngineError as err:
            await refuse(interaction, err)
            return
        log.info(
            "an argument of round %s was %s", result.round_id, "hidden" if hidden else "restored"
        )
        await self.show_list(interaction, moderated, 0, notice=result.text)

    # ------------------------------------------------------------------ slash commands

    # Autocomplete offers only what the caller may act on: the debates and rounds of their own
    # guild, and nothing to members without moderator rights.

    async def _debate_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return suggestions(await self.cases.debate_choices(self.actor(interaction), current))

    async def _round_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        found = await self.cases.moderated_round_choices(self.actor(interaction), current)
        return suggestions(found)

    async def _export_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return suggestions(await self.cases.export_choices(self.actor(interaction), current))

    async def _on_round(
        self, interaction: discord.Interaction[Any], code: str | None, act: RoundAction
    ) -> None:
        """Run ``act`` on the round a moderator command means, once the rights are checked."""
        moderated = await self.moderated_round(interaction, code)
        if moderated is None:
            return
        try:
            text = await act(moderated)
        except EngineError as err:
            await refuse(interaction, err)
            return
        if text is not None:
            await answer(interaction, text)

    @subcommand("open", {"debate": "debate"}, autocomplete={"debate": _debate_choices})
    async def open(
        self, interaction: discord.Interaction[Any], debate: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            target = await self.cases.debate(self.actor(interaction), debate)
            opened = await target.open()
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(interaction, opened.text)

    @subcommand("close", {"code": "round"}, autocomplete={"code": _round_choices})
    async def close(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        # Closing summarises the round (analysis in a thread): acknowledged first.
        async def act(moderated: RoundModeration) -> str:
            return (await moderated.close()).text

        await self._on_round(interaction, code, act)

    @subcommand(
        "extend",
        {"duration": "duration", "code": "round"},
        autocomplete={"code": _round_choices},
    )
    async def extend(
        self,
        interaction: discord.Interaction[Any],
        duration: app_commands.Range[str, 1, 32],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        async def act(moderated: RoundModeration) -> str:
            return (await moderated.extend(duration)).text

        await self._on_round(interaction, code, act)

    @subcommand(
        "export",
        {"fmt": "format", "code": "export_round"},
        choices={"fmt": EXPORT_CHOICES},
        autocomplete={"code": _export_choices},
    )
    async def export(
        self,
        interaction: discord.Interaction[Any],
        fmt: app_commands.Choice[str],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            # A closed round's rights: the guild of the channels it was posted in.
            target = await self.cases.export_target(self.actor(interaction), code)
            exported = await target.export(fmt.value)
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(interaction, exported.text, files=[exported.attachment])

    @subcommand(
        "approve",
        {"number": "number", "code": "round"},
        autocomplete={"code": _round_choices},
    )
    async def approve(
        self,
        interaction: discord.Interaction[Any],
        number: app_commands.Range[int, 1, 999_999_999],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        """Put an argument held for approval (``moderation: pre``) to the vote."""

        async def act(moderated: RoundModeration) -> str:
            return (await moderated.approve(number)).text

        await self._on_round(interaction, code, act)

    @subcommand("moderation", {"code": "round"}, autocomplete={"code": _round_choices})
    async def moderation(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        async def act(moderated: RoundModeration) -> None:
            await self.show_list(interaction, moderated, 0)

        await self._on_round(interaction, code, act)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, DebateBot):
        raise TypeError("cogs.moderation needs the DebateBot of bot.adapters.discord")
    # override=True: the commands join the shared /debat group, which the tree already knows.
    await bot.add_cog(ModerationCog(bot), override=True)
