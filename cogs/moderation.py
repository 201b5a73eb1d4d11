"""What moderators use: open, close, extend, export, and hide or restore arguments.

A command or a moderation button acts on a round (or opens a round of a debate) only for a
moderator *of the guild holding one of that round's (or debate's) channels*: the interaction
comes from that guild and the caller has Manage Server, Administrator or one of
``platforms.discord.moderator_role_ids`` there. Rights in any other guild that has the bot
count for nothing, whether the commands are registered globally or per guild. The check runs in
the bot on every command and every button: Discord's own command permissions can be changed by
any server admin and are no guarantee.

Every refusal is the same ``not_moderator`` line. A target that cannot be found (an unknown
code or debate, no round to act on) is explained only to moderators of some debate's guild;
others get the same refusal, so that outsiders learn nothing about rounds from the answers.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from typing import Any, Self

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.adapters.discord import (
    DebateBot,
    answer,
    channel_ref,
    escape_member_text,
    fit,
    has_moderator_rights,
    refuse,
)
from bot.durations import format_duration, parse_duration
from bot.engine import EngineError, OpenRound, RoundInfo
from bot.events import ChannelRef
from bot.summary.export import EXPORT_FORMATS
from bot.text import escape_markdown
from cogs import DebatCog, guarded, loaded_cog

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


class PickSelect(discord.ui.DynamicItem[Select], template=PICK_ID):
    """Choose an argument of a page: ``debat:mod-pick:<round>:<page>`` (value: its number)."""

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
        self.round_id = round_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["round"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        values = self.item.values
        number = int(values[0]) if values and values[0].isdigit() else 0
        await guarded(
            interaction, _cog(interaction).on_pick(interaction, self.round_id, number, self.page)
        )


class PageButton(discord.ui.DynamicItem[Button], template=PAGE_ID):
    """Show a page of the argument list: ``debat:mod-page:<round>:<page>``."""

    def __init__(self, round_id: int, page: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or str(page + 1),
                style=discord.ButtonStyle.secondary,
                custom_id=f"debat:mod-page:{round_id}:{page}",
            )
        )
        self.round_id = round_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["round"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction, _cog(interaction).on_page(interaction, self.round_id, self.page)
        )


class HideButton(discord.ui.DynamicItem[Button], template=HIDE_ID):
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
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["round"]), int(match["number"]), match["hidden"] == "1")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(
            interaction,
            _cog(interaction).on_hide(interaction, self.round_id, self.number, self.hidden),
        )


COMPONENTS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (PickSelect, PageButton, HideButton)

EXPORT_CHOICES = [
    app_commands.Choice(name=locale_str("Markdown (.md)"), value="md"),
    app_commands.Choice(name=locale_str("CSV (tableur)"), value="csv"),
    app_commands.Choice(name=locale_str("JSON (données)"), value="json"),
    app_commands.Choice(name=locale_str("HTML (page web)"), value="html"),
]
assert [c.value for c in EXPORT_CHOICES] == list(EXPORT_FORMATS)


class ModerationCog(DebatCog, name="ModerationCog"):
    """Moderator commands and the argument moderation panel."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        # Runs before each of this cog's commands; a False becomes a CheckFailure, which the
        # tree answers with the engine's "not_moderator" message. It only asks whether the
        # caller moderates the guild the command comes from; each command then checks that this
        # guild holds the round it acts on (:meth:`authorised`).
        return has_moderator_rights(interaction, self.adapter.settings)

    # ------------------------------------------------------------------ rights over a round

    async def authorised(
        self, interaction: discord.Interaction[Any], channels: Iterable[ChannelRef]
    ) -> bool:
        """Whether the caller moderates the guild of one of ``channels``; if not, refused."""
        if await self.adapter.moderates_in(interaction, channels):
            return True
        await answer(interaction, self.m("not_moderator"))
        return False

    async def not_found(self, interaction: discord.Interaction[Any], error: EngineError) -> None:
        """The target cannot be found: explained to moderators, the plain refusal to others."""
        if await self.adapter.moderates_somewhere(interaction):
            await refuse(interaction, error)
        else:
            await answer(interaction, self.m("not_moderator"))

    async def in_guild(
        self, interaction: discord.Interaction[Any], channels: Iterable[ChannelRef]
    ) -> bool:
        """Whether one of ``channels`` is in the guild the interaction comes from."""
        return interaction.guild_id in await self.adapter.guilds_of(channels)

    async def guild_rounds(self, interaction: discord.Interaction[Any]) -> list[OpenRound]:
        """The open rounds posted in the caller's guild (what a moderator there may act on)."""
        return [r for r in self.discord_rounds() if await self.in_guild(interaction, r.channels)]

    async def moderated_round(
        self, interaction: discord.Interaction[Any], code: str | None
    ) -> OpenRound | None:
        """Acknowledge, then the open round a moderator command acts on, rights checked; a
        refusal is answered and gives None.

        Without a code: this channel's round, else the only open round of this guild; never
        a round of another guild (nor, when several are open, their codes).
        """
        await interaction.response.defer(ephemeral=True, thinking=True)
        wanted = code.strip() if code and code.strip() else None
        rounds = await self.guild_rounds(interaction)
        here = [c for r in rounds for c in r.channels]
        try:
            if wanted is None and not rounds:
                raise EngineError("no_open_round")
            # With rounds in this guild, the engine's "shared channels" scope is this guild's.
            r = self.engine.resolve_round(
                wanted, channel_ref(interaction), here, platform="discord"
            )
        except EngineError as err:
            await self.not_found(interaction, err)
            return None
        return r if await self.authorised(interaction, r.channels) else None

    async def round_channels(self, round_id: int) -> tuple[ChannelRef, ...]:
        """The channels of a round, open or closed (none for an unknown id)."""
        r = self.engine.open_round_by_id(round_id)
        if r is not None:
            return r.channels
        info = await self.engine.round_info(round_id)
        return () if info is None else info.channel_refs

    # ------------------------------------------------------------------ moderation panel

    async def allowed(self, interaction: discord.Interaction[Any], round_id: int) -> bool:
        """Checked on every click, before anything is shown or changed; others get the
        refusal, privately."""
        return await self.authorised(interaction, await self.round_channels(round_id))

    async def on_pick(
        self, interaction: discord.Interaction[Any], round_id: int, number: int, page: int
    ) -> None:
        if await self.allowed(interaction, round_id):
            await self.show_argument(interaction, round_id, number, page)

    async def on_page(
        self, interaction: discord.Interaction[Any], round_id: int, page: int
    ) -> None:
        if await self.allowed(interaction, round_id):
            await interaction.response.defer()
            await self.show_list(interaction, round_id, page)

    async def on_hide(
        self, interaction: discord.Interaction[Any], round_id: int, number: int, hidden: bool
    ) -> None:
        if await self.allowed(interaction, round_id):
            await interaction.response.defer()
            await self.set_hidden(interaction, round_id, number, hidden)

    async def show_list(
        self, interaction: discord.Interaction[Any], round_id: int, page: int, notice: str = ""
    ) -> None:
        try:
            r = self.open_round(round_id)
            arguments = await self.engine.list_arguments(round_id)
        except EngineError as err:
            await refuse(interaction, err)
            return
        head = f"{notice}\n" if notice else ""
        if not arguments:
            await answer(interaction, head + self.t("moderation_none", code=r.code))
            return
        pages = max(1, math.ceil(len(arguments) / PER_PAGE))
        page = min(max(page, 0), pages - 1)
        shown = arguments[page * PER_PAGE : (page + 1) * PER_PAGE]
        lines = []
        options = []
        for number, text, hidden in shown:
            status = self.t("moderation_hidden" if hidden else "moderation_visible")
            excerpt = escape_member_text(fit(" ".join(text.split()), 120))
            lines.append(f"• **{number}** ({status}) — {excerpt}")
            options.append(
                discord.SelectOption(
                    label=fit(f"{number} ({status})", 100),
                    value=str(number),
                    description=fit(" ".join(text.split()), 100),
                )
            )
        embed = discord.Embed(
            title=fit(
                self.t(
                    "moderation_header",
                    code=r.code,
                    count=len(arguments),
                    page=page + 1,
                    pages=pages,
                ),
                256,
            ),
            description="\n".join(lines),
        )
        view = discord.ui.View(timeout=None)
        view.add_item(PickSelect(round_id, page, options, self.t("moderation_pick")))
        if page > 0:
            view.add_item(PageButton(round_id, page - 1, self.t("button_previous")))
        if page + 1 < pages:
            view.add_item(PageButton(round_id, page + 1, self.t("button_next")))
        await answer(interaction, head + self.t("moderation_hint"), embed=embed, view=view)

    async def show_argument(
        self, interaction: discord.Interaction[Any], round_id: int, number: int, page: int
    ) -> None:
        await interaction.response.defer()
        try:
            r = self.open_round(round_id)
            arguments = await self.engine.list_arguments(round_id)
        except EngineError as err:
            await refuse(interaction, err)
            return
        found = next(((n, t, h) for n, t, h in arguments if n == number), None)
        if found is None:
            await refuse(interaction, EngineError("unknown_argument", number=number, code=r.code))
            return
        _, text, hidden = found
        status = self.t("moderation_hidden" if hidden else "moderation_visible")
        body = (
            self.t("moderation_argument", number=number, status=status)
            + "\n> "
            + escape_member_text(fit(text, 1500)).replace("\n", "\n> ")
        )
        view = discord.ui.View(timeout=None)
        if hidden:
            view.add_item(HideButton(round_id, number, False, self.t("button_restore")))
        else:
            view.add_item(HideButton(round_id, number, True, self.t("button_hide")))
        view.add_item(PageButton(round_id, page, self.t("button_back")))
        await answer(interaction, body, view=view)

    async def set_hidden(
        self, interaction: discord.Interaction[Any], round_id: int, number: int, hidden: bool
    ) -> None:
        try:
            await self.engine.set_hidden(round_id, number, hidden)
        except EngineError as err:
            await refuse(interaction, err)
            return
        notice = self.m("argument_hidden" if hidden else "argument_restored", number=number)
        log.info("an argument of round %s was %s", round_id, "hidden" if hidden else "restored")
        await self.show_list(interaction, round_id, 0, notice=notice)

    # ------------------------------------------------------------------ slash commands

    # Autocomplete offers only what the caller may act on: the debates and rounds of their own
    # guild, and nothing to members without moderator rights.

    async def _debate_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if not has_moderator_rights(interaction, self.adapter.settings):
            return []
        needle = current.strip().lower()
        return [
            app_commands.Choice(name=fit(f"{d.id} — {d.title}", 100), value=d.id)
            for d in self.engine.config.debates
            if (not needle or needle in d.id or needle in d.title.lower())
            and await self.in_guild(interaction, self.engine.debate_channels(d.id))
        ][:25]

    async def _round_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if not has_moderator_rights(interaction, self.adapter.settings):
            return []
        return await self.round_choices(interaction, current, await self.guild_rounds(interaction))

    async def _export_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if not has_moderator_rights(interaction, self.adapter.settings):
            return []
        needle = current.strip().lower()
        rounds = [r for r in await self.engine.list_rounds() if r.state == "summarised"]
        rounds.sort(key=lambda r: r.closes_at, reverse=True)
        return [
            app_commands.Choice(name=fit(f"{r.code} — {r.question}", 100), value=r.code)
            for r in rounds
            if (not needle or needle in r.code.lower() or needle in r.question.lower())
            and await self.in_guild(interaction, r.channel_refs)
        ][:25]

    @app_commands.command(
        name=locale_str("ouvrir"), description=locale_str("Ouvrir un tour maintenant (modération)")
    )
    @app_commands.rename(debate=locale_str("debat-id"))
    @app_commands.describe(debate=locale_str("Le débat dont ouvrir un tour"))
    @app_commands.autocomplete(debate=_debate_choices)
    async def open(
        self, interaction: discord.Interaction[Any], debate: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        debate_id = debate.strip()
        try:
            channels = self.engine.debate_channels(debate_id)
        except EngineError as err:
            await self.not_found(interaction, err)
            return
        if not await self.authorised(interaction, channels):
            return
        try:
            info = await self.engine.open_round(debate_id)
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(interaction, self.m("round_opened", code=info.code, question=info.question))

    @app_commands.command(
        name=locale_str("fermer"),
        description=locale_str("Fermer le tour et publier la synthèse (modération)"),
    )
    @app_commands.rename(code=locale_str("tour"))
    @app_commands.describe(
        code=locale_str("Code du tour (seulement si plusieurs tours sont ouverts)")
    )
    @app_commands.autocomplete(code=_round_choices)
    async def close(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        # Closing summarises the round (analysis in a thread): acknowledged first.
        r = await self.moderated_round(interaction, code)
        if r is None:
            return
        try:
            await self.engine.close_round(r.id)
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(interaction, self.m("round_closing", code=r.code))

    @app_commands.command(
        name=locale_str("prolonger"), description=locale_str("Prolonger le tour (modération)")
    )
    @app_commands.rename(duration=locale_str("duree"), code=locale_str("tour"))
    @app_commands.describe(
        duration=locale_str("Durée à ajouter, par exemple 2h ou 1d"),
        code=locale_str("Code du tour (seulement si plusieurs tours sont ouverts)"),
    )
    @app_commands.autocomplete(code=_round_choices)
    async def extend(
        self,
        interaction: discord.Interaction[Any],
        duration: app_commands.Range[str, 1, 32],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        r = await self.moderated_round(interaction, code)
        if r is None:
            return
        try:
            delta = parse_duration(duration)
        except ValueError as exc:
            await answer(interaction, self.m("invalid_duration", error=escape_markdown(str(exc))))
            return
        try:
            closes = await self.engine.extend_round(r.id, delta)
        except EngineError as err:
            await refuse(interaction, err)
            return
        log.info("round %s extended by %s", r.id, format_duration(delta))
        await answer(
            interaction,
            self.m("round_extended", code=r.code, closes=self.engine.format_time(closes)),
        )

    @app_commands.command(
        name=locale_str("exporter"),
        description=locale_str("Exporter la synthèse d'un tour fermé (modération)"),
    )
    @app_commands.rename(fmt=locale_str("format"), code=locale_str("tour"))
    @app_commands.describe(
        fmt=locale_str("Format du fichier"),
        code=locale_str("Code du tour (par défaut le dernier tour fermé de ce salon)"),
    )
    @app_commands.choices(fmt=EXPORT_CHOICES)
    @app_commands.autocomplete(code=_export_choices)
    async def export(
        self,
        interaction: discord.Interaction[Any],
        fmt: app_commands.Choice[str],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            info = await self.export_target(interaction, code)
        except EngineError as err:
            await self.not_found(interaction, err)
            return
        # A closed round's rights: the guild of the channels it was posted in.
        if not await self.authorised(interaction, info.channel_refs):
            return
        try:
            attachment = await self.engine.export(info.id, fmt.value)
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(
            interaction,
            self.m("export_ready", code=info.code, format=fmt.value),
            files=[attachment],
        )

    async def export_target(
        self, interaction: discord.Interaction[Any], code: str | None
    ) -> RoundInfo:
        """The round to export: the one with ``code``, else this channel's latest closed one."""
        if code and code.strip():
            info = await self.engine.find_round(code.strip())
            if info is None:
                raise EngineError("unknown_round", code=escape_markdown(code.strip()[:20]))
            return info
        latest = await self.engine.latest_summarised(channel_ref(interaction))
        found = None if latest is None else await self.engine.round_info(latest)
        if found is None:
            raise EngineError("no_round_to_export")
        return found

    @app_commands.command(
        name=locale_str("moderation"),
        description=locale_str("Masquer ou rétablir un argument (modération)"),
    )
    @app_commands.rename(code=locale_str("tour"))
    @app_commands.describe(
        code=locale_str("Code du tour (seulement si plusieurs tours sont ouverts)")
    )
    @app_commands.autocomplete(code=_round_choices)
    async def moderation(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        r = await self.moderated_round(interaction, code)
        if r is not None:
            await self.show_list(interaction, r.id, 0)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, DebateBot):
        raise TypeError("cogs.moderation needs the DebateBot of bot.adapters.discord")
    bot.add_dynamic_items(*COMPONENTS)
    # override=True: the commands join the shared /debat group, which the tree already knows.
    await bot.add_cog(ModerationCog(bot), override=True)


async def teardown(bot: commands.Bot) -> None:
    bot.remove_dynamic_items(*COMPONENTS)
