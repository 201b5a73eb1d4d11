"""The text commands understood by the console and Matrix adapters (one parser for both).

Members: ``!position [code] <stance> [argument]``, ``!ma-position``, ``!retirer``, ``!voter``
then ``1``/``2``/``3`` (or a word, see :mod:`bot.usecases.answers`), ``!aide`` (English:
``!mine``, ``!withdraw``, ``!vote``, ``!help``).
Moderators: ``!debat ouvrir|fermer|prolonger|exporter|masquer|restaurer|approuver …``.

Every answer to a member is private. Bad input gets a localised explanation and changes
nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.engine import Engine, EngineError
from bot.events import Incoming, Reply, Visibility
from bot.i18n import STANCE_ALIASES
from bot.outage import as_answer
from bot.ports import ModeratorCheck
from bot.text import escape_markdown
from bot.usecases import Actor, RoundModeration, UseCases, checked_by
from bot.usecases.answers import vote_value

log = logging.getLogger(__name__)

MEMBER_COMMANDS = {
    "position": "position",
    "ma-position": "mine",
    "maposition": "mine",
    "mine": "mine",
    "retirer": "withdraw",
    "withdraw": "withdraw",
    "voter": "vote",
    "vote": "vote",
    "aide": "help",
    "help": "help",
    "debat": "debat",
    "débat": "debat",
    "debate": "debat",
}
MODERATOR_ACTIONS = {
    "ouvrir": "open",
    "open": "open",
    "fermer": "close",
    "close": "close",
    "prolonger": "extend",
    "extend": "extend",
    "exporter": "export",
    "export": "export",
    "masquer": "hide",
    "hide": "hide",
    "restaurer": "restore",
    "restore": "restore",
    "arguments": "list",
    "approuver": "approve",
    "approve": "approve",
}
_CODE = re.compile(r"^[A-Za-z2-9]{5}$")


@dataclass
class _PendingVote:
    round_id: int
    argument_id: int
    prompt: str = ""


class TextCommands:
    """Parses an :class:`Incoming` into a use-case call and renders its result as replies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.m = engine.messages
        self.cases = UseCases(engine)
        # Which argument each member was last shown, so that "1"/"2"/"3" can answer it. In
        # memory only (keyed by the platform id for the duration of a vote), never stored.
        self._pending: dict[tuple[str, str], _PendingVote] = {}
        # Per platform, who moderates which channel (set by the app from the adapters).
        self.moderator_checks: dict[str, ModeratorCheck] = {}

    def awaiting_vote(self, platform: str, user_id: str) -> bool:
        """Whether this member was shown an argument and its answer is awaited."""
        return (platform, user_id) in self._pending

    def is_vote_prompt(self, platform: str, user_id: str, reply: Reply) -> bool:
        """Whether ``reply`` is the vote prompt this member is now asked to answer."""
        pending = self._pending.get((platform, user_id))
        return pending is not None and pending.prompt == reply.text

    def is_command(self, text: str) -> bool:
        return text.lstrip().startswith("!")

    def actor(self, msg: Incoming) -> Actor:
        """The sender, with their platform's answer to who moderates which channel."""
        check = self.moderator_checks.get(msg.platform)
        return Actor(
            msg.platform,
            msg.user_id,
            checked_by(check, msg.platform, msg.user_id),
            msg.channel,
            msg.shared_channels,
            # In a DM, a moderator command without a code means a round the sender moderates.
            scope_by_rights=msg.channel is None,
        )

    async def handle(self, msg: Incoming) -> list[Reply]:
        try:
            return await self._handle(msg)
        except Exception as exc:
            # A database failure the use-cases did not classify: the member still gets an
            # answer, which cannot say "nothing was recorded".
            refusal = as_answer(exc)
            if refusal is None:
                raise
            return [self._private(refusal.render(self.m))]

    async def _handle(self, msg: Incoming) -> list[Reply]:
        text = msg.text.strip()
        key = (msg.platform, msg.user_id)
        if not text.startswith("!"):
            value = vote_value(text)
            if msg.is_dm and text and key not in self._pending:
                await self._restore_pending(msg)
            if key in self._pending and value is not None:
                return await self._answer_vote(msg, value)
            if msg.is_dm and key in self._pending:
                # Nothing is recorded from an answer that could be misread.
                return [self._private(self.m("vote_unreadable"))]
            if msg.is_dm and value is not None:
                return [self._private(self.m("vote_no_pending"))]
            if msg.is_dm and text:
                return [
                    self._private(self.m("unknown_command", command=escape_markdown(text[:30])))
                ]
            return []
        word, _, rest = text[1:].partition(" ")
        command = MEMBER_COMMANDS.get(word.lower())
        if command is None:
            unknown = escape_markdown("!" + word[:30])
            return [self._private(self.m("unknown_command", command=unknown))]
        try:
            return await self._dispatch(msg, command, rest.strip())
        except EngineError as err:
            return [self._private(err.render(self.m))]

    async def _dispatch(self, msg: Incoming, command: str, rest: str) -> list[Reply]:
        if command == "help":
            return [await self._help(msg)]
        if command == "debat":
            return [await self._moderate(msg, rest)]
        if command == "position":
            return [await self._position(msg, rest)]
        if command == "mine":
            return [await self._mine(msg, rest)]
        if command == "withdraw":
            return [await self._withdraw(msg, rest)]
        if command == "vote":
            return [await self._vote(msg, rest)]
        return []

    # ------------------------------------------------------------------ parsing and rendering

    @staticmethod
    def _private(text: str) -> Reply:
        return Reply(text=text, visibility=Visibility.PRIVATE)

    async def _help(self, msg: Incoming) -> Reply:
        result = await self.cases.help(self.actor(msg))
        text = self.m("help") + "\n\n" + result.where
        if result.moderator:
            text += "\n\n" + self.m("help_moderator")
        return self._private(text)

    def _split_code(self, rest: str) -> tuple[str | None, str]:
        """``"ABCDE pour …"`` -> (``"ABCDE"``, ``"pour …"``) when the first word is a code."""
        first, _, tail = rest.partition(" ")
        if _CODE.match(first) and first.lower() not in STANCE_ALIASES:
            return first.upper(), tail.strip()
        return None, rest

    def _round_id(self, msg: Incoming, rest: str) -> int:
        """The open round named by the code that may start ``rest``, else the sender's."""
        return self.cases.find_round(self.actor(msg), self._split_code(rest)[0]).id

    # ------------------------------------------------------------------ members

    async def _position(self, msg: Incoming, rest: str) -> Reply:
        code, rest = self._split_code(rest)
        result = await self.cases.position_text(self.actor(msg), code, rest)
        text = result.text
        if msg.channel is not None:
            text += "\n" + self.m("answer_privately")
        return self._private(text)

    async def _mine(self, msg: Incoming, rest: str) -> Reply:
        result = await self.cases.mine(self.actor(msg), self._round_id(msg, rest))
        return self._private(result.text)

    async def _withdraw(self, msg: Incoming, rest: str) -> Reply:
        result = await self.cases.withdraw(self.actor(msg), self._round_id(msg, rest))
        self._pending.pop((msg.platform, msg.user_id), None)
        return self._private(result.text)

    async def _vote(self, msg: Incoming, rest: str) -> Reply:
        prompt = await self.cases.next_vote(self.actor(msg), self._round_id(msg, rest))
        return await self._prompted(msg, prompt.round_id, prompt.argument_id, prompt.text)

    async def _prompted(
        self, msg: Incoming, round_id: int, argument_id: int | None, text: str
    ) -> Reply:
        """The prompt, remembering which argument the member's next answer answers (in memory
        and, by pseudonym, in the database: it survives a restart)."""
        key = (msg.platform, msg.user_id)
        if argument_id is None:
            self._pending.pop(key, None)
        else:
            self._pending[key] = _PendingVote(round_id, argument_id, text)
        await self.cases.await_answer(self.actor(msg), round_id, argument_id)
        return self._private(text)

    async def ask_again(self, msg: Incoming) -> list[Reply]:
        """An answer to a prompt the bot can no longer identify (a reaction under a message
        sent before a restart): nothing is recorded; the member is asked again, or told that
        no vote is awaited."""
        key = (msg.platform, msg.user_id)
        if key not in self._pending:
            await self._restore_pending(msg)
        pending = self._pending.get(key)
        if pending is None:
            return [self._private(self.m("vote_no_pending"))]
        prompt = await self.cases.next_vote(self.actor(msg), pending.round_id)
        again = await self._prompted(msg, prompt.round_id, prompt.argument_id, prompt.text)
        return [self._private(self.m("vote_asked_again")), again]

    async def _restore_pending(self, msg: Incoming) -> None:
        """After a restart: the vote this member was asked for, as kept in the database."""
        kept = await self.cases.pending_answer(self.actor(msg))
        if kept is not None:
            self._pending[(msg.platform, msg.user_id)] = _PendingVote(*kept)

    async def _answer_vote(self, msg: Incoming, value: int) -> list[Reply]:
        pending = self._pending.pop((msg.platform, msg.user_id))
        try:
            result = await self.cases.vote(
                self.actor(msg), pending.round_id, value, argument_id=pending.argument_id
            )
        except EngineError as err:
            # That answer cannot apply (a hidden argument, a closed round): none is awaited.
            await self.cases.await_answer(self.actor(msg), pending.round_id, None)
            return [self._private(err.render(self.m))]
        nxt = result.next
        return [await self._prompted(msg, nxt.round_id, nxt.argument_id, nxt.text)]

    # ------------------------------------------------------------------ moderators

    async def _moderate(self, msg: Incoming, rest: str) -> Reply:
        """``!debat <action> …``: the use-cases decide who may, from the target's channels."""
        word, _, args = rest.partition(" ")
        action = MODERATOR_ACTIONS.get(word.lower())
        if action is None and word.lower() in ("participer", "join"):
            return await self._help(msg)
        actor = self.actor(msg)
        args = args.strip()
        if action is None:
            helped = await self.cases.help(actor)
            return self._private(self.m("help_moderator" if helped.moderator else "not_moderator"))
        if action == "open":
            debate = await self.cases.debate(actor, args.split(" ")[0] if args else "")
            return self._private((await debate.open()).text)
        if action == "export":
            fmt, _, code = args.partition(" ")
            target = await self.cases.export_target(actor, code.strip())
            exported = await target.export(fmt or "md")
            # Always to the moderator alone, never into the channel it was asked in.
            return Reply(text=exported.text, attachments=(exported.attachment,))
        if action == "close":
            moderated = await self.cases.moderated_round(actor, self._split_code(args)[0])
            return self._private((await moderated.close()).text)
        if action == "list":
            wanted, page = self._split_code(args)
            moderated = await self.cases.moderated_round(actor, wanted)
            number = int(page) if page.isdigit() else 1
            return self._private(await moderated.arguments_page(number))
        # extend, hide, restore, approve: the code comes after the duration or the number
        first, _, tail = args.partition(" ")
        moderated = await self.cases.moderated_round(actor, self._split_code(tail.strip())[0])
        return self._private(await self._act(moderated, action, first))

    @staticmethod
    async def _act(moderated: RoundModeration, action: str, first: str) -> str:
        if action == "extend":
            return (await moderated.extend(first)).text
        typed = first.lstrip("#")
        number = int(typed) if typed.isdigit() else None
        if action == "approve":
            return (await moderated.approve(number)).text
        return (await moderated.set_hidden(number, action == "hide")).text
