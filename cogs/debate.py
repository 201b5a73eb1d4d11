"""What members use: the ``/debat`` member commands and the persistent buttons.

Every button's custom id names the round (and, for a vote, the argument's public number) it acts
on and nothing about who clicks it, so any button keeps working after a restart: a click is
answered from its custom id alone, by the listener of :class:`cogs.DebatCog`, which matches it
against the templates of :data:`COMPONENTS`. The argument modal is handled the same way, from
its custom id, by :meth:`DebateCog.on_interaction`.

Every answer is ephemeral, and every handler that reaches the database defers first so the
interaction is acknowledged well within Discord's three seconds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters.discord import (
    DebateBot,
    answer,
    escape_member_text,
    fit,
    in_time,
    refuse,
    replacing,
    timestamp,
)
from bot.engine import VOTE_VALUES, EngineError
from bot.events import RoundPost
from bot.usecases import MineResult, VotePrompt
from cogs import (
    ComponentView,
    CustomIdItem,
    DebatCog,
    guarded,
    loaded_cog,
    subcommand,
    suggestions,
)

log = logging.getLogger(__name__)

_ROUND = r"(?P<round>[0-9]{1,20})"
STANCE_ID = re.compile(rf"debat:stance:{_ROUND}:(?P<stance>[a-z0-9][a-z0-9-]{{0,63}})")
ARGUE_ID = re.compile(rf"debat:argue:{_ROUND}")
VOTE_ID = re.compile(rf"debat:vote:{_ROUND}")
MINE_ID = re.compile(rf"debat:mine:{_ROUND}")
WITHDRAW_ID = re.compile(rf"debat:withdraw:{_ROUND}")
WITHDRAW_CONFIRM_ID = re.compile(rf"debat:withdraw-confirm:{_ROUND}")
_VALUE = r"(?P<value>agree|disagree|pass)"
# The argument is named by its public number (what the prompt shows), never by its database id.
VOTE_ON_ID = re.compile(rf"debat:vote-on:{_ROUND}:(?P<number>[0-9]{{1,9}}):{_VALUE}")
# Before public numbers, vote buttons carried the database id under this name. A prompt a
# member still has on screen from then must not vote on whichever argument now has that number.
STALE_VOTE_ID = re.compile(rf"debat:vote-answer:{_ROUND}:[0-9]{{1,20}}:{_VALUE}")
ARGUE_MODAL_ID = re.compile(rf"debat:argue-modal:{_ROUND}")
ARGUMENT_FIELD = "argument"
STANCES_PER_ROW = 5
STANCE_ROWS = 4

Button = discord.ui.Button[discord.ui.View]


def _cog(interaction: discord.Interaction[Any]) -> DebateCog:
    return loaded_cog(interaction, DebateCog)


# ---------------------------------------------------------------------------------- components


class StanceButton(CustomIdItem[Button], template=STANCE_ID):
    """Record (or change) a stance: ``debat:stance:<round>:<stance>``."""

    def __init__(
        self, round_id: int, stance: str, label: str = "", row: int | None = None
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=fit(label or stance, 80),
                style=discord.ButtonStyle.primary,
                custom_id=f"debat:stance:{round_id}:{stance}",
            ),
            row=row,
        )
        self.round_id = round_id
        self.stance = stance

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        return _cog(interaction).on_stance(interaction, int(match["round"]), match["stance"])


class _RoundButton(CustomIdItem[Button], template=r"debat:(?!)(?P<round>[0-9]+)"):
    """A button that carries nothing but its round: ``debat:<action>:<round>``.

    The base template can never match; each subclass brings its own and its action, which
    names the cog handler it calls (:meth:`DebateCog.on_button`).
    """

    action = ""
    style = discord.ButtonStyle.secondary
    emoji: str | None = None

    def __init__(self, round_id: int, label: str = "", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or "…",
                style=self.style,
                emoji=self.emoji,
                custom_id=f"debat:{self.action}:{round_id}",
            ),
            row=row,
        )
        self.round_id = round_id

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        return _cog(interaction).on_button(interaction, cls.action, int(match["round"]))


class ArgueButton(_RoundButton, template=ARGUE_ID):
    """Open the argument modal: ``debat:argue:<round>``."""

    action, emoji = "argue", "✍️"


class VoteButton(_RoundButton, template=VOTE_ID):
    """Start voting on the arguments: ``debat:vote:<round>``."""

    action, style, emoji = "vote", discord.ButtonStyle.success, "🗳️"


class MineButton(_RoundButton, template=MINE_ID):
    """Show the member's own position: ``debat:mine:<round>``."""

    action, emoji = "mine", "👤"


class WithdrawButton(_RoundButton, template=WITHDRAW_ID):
    """Ask for confirmation before withdrawing: ``debat:withdraw:<round>``."""

    action, style = "withdraw", discord.ButtonStyle.danger


class WithdrawConfirmButton(_RoundButton, template=WITHDRAW_CONFIRM_ID):
    """Withdraw stance, arguments and votes: ``debat:withdraw-confirm:<round>``."""

    action, style = "withdraw-confirm", discord.ButtonStyle.danger


_VOTE_STYLES = {
    "agree": (discord.ButtonStyle.success, "👍"),
    "disagree": (discord.ButtonStyle.danger, "👎"),
    "pass": (discord.ButtonStyle.secondary, "⏭️"),
}


class VoteAnswerButton(CustomIdItem[Button], template=VOTE_ON_ID):
    """Agree / disagree / pass: ``debat:vote-on:<round>:<public number>:<value>``."""

    def __init__(self, round_id: int, number: int, value: str, label: str = "") -> None:
        style, emoji = _VOTE_STYLES[value]
        super().__init__(
            discord.ui.Button(
                label=label or value,
                style=style,
                emoji=emoji,
                custom_id=f"debat:vote-on:{round_id}:{number}:{value}",
            )
        )
        self.round_id = round_id
        self.number = number
        self.value = value

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        return _cog(interaction).on_vote_answer(
            interaction, int(match["round"]), int(match["number"]), VOTE_VALUES[match["value"]]
        )


class StaleVoteButton(CustomIdItem[Button], template=STALE_VOTE_ID):
    """A vote button of the old format: records nothing, shows a fresh prompt instead."""

    def __init__(self, round_id: int) -> None:
        super().__init__(discord.ui.Button(custom_id=f"debat:vote-answer:{round_id}:0:pass"))
        self.round_id = round_id

    @classmethod
    def clicked(
        cls, interaction: discord.Interaction[Any], match: re.Match[str]
    ) -> Awaitable[None]:
        return _cog(interaction).on_stale_vote(interaction, int(match["round"]))


COMPONENTS: tuple[type[CustomIdItem[Any]], ...] = (
    StanceButton,
    ArgueButton,
    VoteButton,
    MineButton,
    WithdrawButton,
    WithdrawConfirmButton,
    VoteAnswerButton,
    StaleVoteButton,
)


class ArgumentModal(discord.ui.Modal):
    """The form behind "Argumenter"; :meth:`DebateCog.on_interaction` handles the submission."""

    def __init__(self, round_id: int, title: str, label: str, placeholder: str, max_chars: int):
        super().__init__(title=fit(title, 45), custom_id=f"debat:argue-modal:{round_id}")
        self.add_item(
            discord.ui.Label(
                text=fit(label, 45),
                component=discord.ui.TextInput(
                    style=discord.TextStyle.paragraph,
                    custom_id=ARGUMENT_FIELD,
                    placeholder=fit(placeholder, 100),
                    min_length=1,
                    max_length=max(1, min(max_chars, 4000)),
                    required=True,
                ),
            )
        )


def submitted_text(components: list[dict[str, Any]], custom_id: str) -> str | None:
    """The value of one text input in a modal submission (action rows or labels)."""
    for component in components:
        inner = component.get("components") or (
            [component["component"]] if "component" in component else []
        )
        if inner:
            found = submitted_text(inner, custom_id)
            if found is not None:
                return found
        elif component.get("custom_id") == custom_id:
            value = component.get("value")
            return value if isinstance(value, str) else None
    return None


# ---------------------------------------------------------------------------------- the cog


class DebateCog(DebatCog, name="DebateCog"):
    """Member commands and component handlers."""

    components = COMPONENTS

    # ------------------------------------------------------------------ views

    def stance_items(self, round_id: int, stances: list[tuple[str, str]]) -> list[StanceButton]:
        limit = STANCES_PER_ROW * STANCE_ROWS
        if len(stances) > limit:
            log.warning("round %s has %d stances; buttons for %d", round_id, len(stances), limit)
        return [
            StanceButton(round_id, stance, label, row=index // STANCES_PER_ROW)
            for index, (stance, label) in enumerate(stances[:limit])
        ]

    def announcement_view(self, post: RoundPost) -> discord.ui.View:
        """One button per stance, then Argumenter / Voter sur les arguments / Ma position."""
        view = ComponentView()
        stances = list(post.stances)
        for item in self.stance_items(post.round_id, stances):
            view.add_item(item)
        row = min(4, (min(len(stances), STANCES_PER_ROW * STANCE_ROWS) - 1) // STANCES_PER_ROW + 1)
        self.add_round_buttons(view, post.round_id, post.statement_voting, row)
        return view

    def add_round_buttons(
        self, view: discord.ui.View, round_id: int, voting: bool, row: int | None = None
    ) -> None:
        """Argumenter, Voter sur les arguments (when the debate votes), Ma position."""
        view.add_item(ArgueButton(round_id, self.t("button_argue"), row=row))
        if voting:
            view.add_item(VoteButton(round_id, self.t("button_vote"), row=row))
        view.add_item(MineButton(round_id, self.t("button_mine"), row=row))

    def mine_view(self, result: MineResult) -> discord.ui.View:
        view = ComponentView()
        r, stance = result.round, result.mine.stance
        stances = [(s, label) for s, label in result.stances if s != stance]
        for item in self.stance_items(r.id, stances[: STANCES_PER_ROW * 3]):
            view.add_item(item)
        view.add_item(ArgueButton(r.id, self.t("button_argue"), row=3))
        if stance is not None:
            view.add_item(WithdrawButton(r.id, self.t("button_withdraw"), row=3))
        return view

    # ------------------------------------------------------------------ shared renderings

    async def _record_position(
        self,
        interaction: discord.Interaction[Any],
        round_id: int,
        stance_word: str,
        argument: str | None = None,
    ) -> None:
        try:
            result = await in_time(
                interaction,
                self.cases.position(self.actor(interaction), round_id, stance_word, argument),
            )
        except EngineError as err:
            await refuse(interaction, err)
            return
        text = (
            result.text
            if result.number is not None
            else result.text + "\n" + self.t("position_hint")
        )
        view = ComponentView()
        self.add_round_buttons(view, result.round.id, result.voting)
        await answer(interaction, text, view=view)

    async def _show_mine(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        try:
            result = await in_time(
                interaction,
                self.cases.mine(
                    self.actor(interaction), round_id, lambda t: escape_member_text(fit(t, 1500))
                ),
            )
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(interaction, result.text, view=self.mine_view(result))

    async def _withdraw(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        try:
            result = await in_time(
                interaction, self.cases.withdraw(self.actor(interaction), round_id)
            )
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(interaction, result.text)

    async def _vote_prompt(
        self, interaction: discord.Interaction[Any], round_id: int, prefix: str = ""
    ) -> None:
        """Show (by editing the deferred message) the next argument to vote on, or the end."""
        try:
            prompt = await in_time(
                interaction, self.cases.next_vote(self.actor(interaction), round_id)
            )
        except EngineError as err:
            await refuse(interaction, err)
            return
        await self._show_prompt(interaction, prompt, prefix)

    async def _show_prompt(
        self, interaction: discord.Interaction[Any], prompt: VotePrompt, prefix: str = ""
    ) -> None:
        head = f"{prefix}\n" if prefix else ""
        nxt = prompt.argument
        if nxt is None:
            await answer(interaction, head + prompt.text)
            return
        quoted = "> " + escape_member_text(fit(nxt.text, 1500)).replace("\n", "\n> ")
        if nxt.carried_from is None:
            title = self.t("vote_prompt", number=nxt.number, remaining=nxt.remaining)
        else:  # nobody's argument, from an earlier round's summary
            title = self.t(
                "vote_prompt_carried",
                number=nxt.number,
                remaining=nxt.remaining,
                code=nxt.carried_from,
            )
        text = head + title + "\n" + quoted
        view = ComponentView()
        for value in ("agree", "disagree", "pass"):
            view.add_item(
                VoteAnswerButton(prompt.round_id, nxt.number, value, self.t(f"button_{value}"))
            )
        await answer(interaction, text, view=view)

    # ------------------------------------------------------------------ component handlers

    def on_button(
        self, interaction: discord.Interaction[Any], action: str, round_id: int
    ) -> Coroutine[Any, Any, None]:
        """The handler of a round's button (:class:`_RoundButton`) by its action."""
        handlers = {
            ArgueButton.action: self.on_argue,
            VoteButton.action: self.on_vote_start,
            MineButton.action: self.on_mine,
            WithdrawButton.action: self.on_withdraw,
            WithdrawConfirmButton.action: self.on_withdraw_confirm,
        }
        return handlers[action](interaction, round_id)

    async def on_stance(
        self, interaction: discord.Interaction[Any], round_id: int, stance: str
    ) -> None:
        await self._record_position(interaction, round_id, stance)

    async def on_argue(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        # A modal must be the first response, so no defer here: everything below is in memory.
        try:
            form = self.cases.argument_form(round_id)
        except EngineError as err:
            await refuse(interaction, err)
            return
        modal = ArgumentModal(
            round_id,
            title=self.t("modal_title", code=form.round.code),
            label=self.t("modal_label"),
            placeholder=self.t("modal_placeholder", max=form.max_chars),
            max_chars=form.max_chars,
        )
        await interaction.response.send_modal(modal)
        # The submission is answered from its custom id by on_interaction (which also works
        # after a restart), so discord.py need not keep this form in memory.
        modal.stop()

    async def on_argument_submitted(
        self, interaction: discord.Interaction[Any], round_id: int, text: str
    ) -> None:
        try:
            result = await in_time(
                interaction, self.cases.argument(self.actor(interaction), round_id, text)
            )
        except EngineError as err:
            await refuse(interaction, err)
            return
        await answer(interaction, result.text)

    async def on_vote_start(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        await self._vote_prompt(interaction, round_id)

    async def on_vote_answer(
        self, interaction: discord.Interaction[Any], round_id: int, number: int, value: int
    ) -> None:
        # Edits the private prompt in place with the next argument.
        replacing(interaction)
        try:
            result = await in_time(
                interaction,
                self.cases.vote(self.actor(interaction), round_id, value, number=number),
            )
        except EngineError as err:
            await refuse(interaction, err)
            return
        await self._show_prompt(interaction, result.next, prefix=self.t("vote_recorded"))

    async def on_stale_vote(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        replacing(interaction)
        await self._vote_prompt(interaction, round_id)

    async def on_mine(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        await self._show_mine(interaction, round_id)

    async def on_withdraw(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        try:
            r = self.cases.open_round(round_id)
        except EngineError as err:
            await refuse(interaction, err)
            return
        view = ComponentView()
        view.add_item(WithdrawConfirmButton(round_id, self.t("button_withdraw_confirm")))
        await interaction.response.send_message(
            self.t("withdraw_confirm", code=r.code), view=view, ephemeral=True
        )

    async def on_withdraw_confirm(
        self, interaction: discord.Interaction[Any], round_id: int
    ) -> None:
        replacing(interaction)
        await self._withdraw(interaction, round_id)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Argument modal submissions, recognised by their custom id."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        match = ARGUE_MODAL_ID.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        text = submitted_text(list(data.get("components") or []), ARGUMENT_FIELD) or ""
        await guarded(
            interaction, self.on_argument_submitted(interaction, int(match["round"]), text)
        )

    # ------------------------------------------------------------------ slash commands

    async def _stance_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        code = getattr(interaction.namespace, "tour", None)  # options by their Discord name
        wanted = code if isinstance(code, str) else None
        return suggestions(self.cases.stance_choices(self.actor(interaction), wanted, current))

    async def _round_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return suggestions(self.cases.round_choices(self.actor(interaction), current))

    @subcommand(
        "position",
        {"stance": "stance", "argument": "argument", "code": "round"},
        autocomplete={"stance": _stance_choices, "code": _round_choices},
    )
    async def position(
        self,
        interaction: discord.Interaction[Any],
        stance: app_commands.Range[str, 1, 64],
        argument: app_commands.Range[str, 1, 4000] | None = None,
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        try:
            r = self.cases.find_round(self.actor(interaction), code)
        except EngineError as err:
            await refuse(interaction, err)
            return
        await self._record_position(interaction, r.id, stance, argument)

    async def _on_round(
        self,
        interaction: discord.Interaction[Any],
        code: str | None,
        show: Callable[[discord.Interaction[Any], int], Awaitable[None]],
    ) -> None:
        try:
            r = self.cases.find_round(self.actor(interaction), code)
        except EngineError as err:
            await refuse(interaction, err)
            return
        await show(interaction, r.id)

    @subcommand("mine", {"code": "round"}, autocomplete={"code": _round_choices})
    async def mine(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        await self._on_round(interaction, code, self._show_mine)

    @subcommand("withdraw", {"code": "round"}, autocomplete={"code": _round_choices})
    async def withdraw(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        await self._on_round(interaction, code, self._withdraw)

    @subcommand("vote", {"code": "round"}, autocomplete={"code": _round_choices})
    async def vote(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 16] | None = None,
    ) -> None:
        await self._on_round(interaction, code, self._vote_prompt)

    @subcommand("rounds")
    async def rounds(self, interaction: discord.Interaction[Any]) -> None:
        listed = self.cases.rounds(self.actor(interaction)).rounds
        if not listed:
            await answer(interaction, self.t("rounds_none"))
            return
        lines = [self.t("rounds_header")]
        for r in listed:
            lines.append(
                self.t(
                    "rounds_line",
                    code=r.code,
                    question=fit(r.question, 300),
                    relative=timestamp(r.closes_at),
                    channels=" ".join(f"<#{c.channel}>" for c in r.channels),
                ).rstrip()
            )
        await answer(interaction, "\n".join(lines))

    @subcommand("help")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        helped = await self.cases.help(self.actor(interaction))
        text = self.t("help") + "\n\n" + helped.where
        # Moderators of a guild that holds one of the debates' (or open rounds') channels.
        if helped.moderator:
            text += "\n\n" + self.t("help_moderator")
        await answer(interaction, text)


async def setup(bot: commands.Bot) -> None:
    if not isinstance(bot, DebateBot):
        raise TypeError("cogs.debate needs the DebateBot of bot.adapters.discord")
    # override=True: the commands join the shared /debat group, which the tree already knows.
    await bot.add_cog(DebateCog(bot), override=True)
