"""The text commands understood by the console and Matrix adapters (one parser for both).

Members: ``!position [code] <stance> [argument]``, ``!ma-position``, ``!retirer``, ``!voter``
then ``d``/``p``/``n``, ``!aide`` (English: ``!mine``, ``!withdraw``, ``!vote``, ``!help``).
Moderators: ``!debat ouvrir|fermer|prolonger|exporter|masquer|restaurer …``.

Every answer to a member is private. Bad input gets a localised explanation and changes
nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.durations import format_duration, parse_duration
from bot.engine import Engine, EngineError, OpenRound, RoundInfo
from bot.events import ChannelRef, Incoming, Reply, Visibility
from bot.i18n import STANCE_ALIASES
from bot.outage import as_answer
from bot.ports import ModeratorCheck
from bot.summary.export import EXPORT_FORMATS
from bot.text import escape_markdown

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
}
VOTE_ANSWERS = {
    "d": 1,
    "p": -1,
    "n": 0,
    "agree": 1,
    "disagree": -1,
    "pass": 0,
    "👍": 1,
    "👎": -1,
    "⏭": 0,
    "⏭️": 0,
}
_CODE = re.compile(r"^[A-Za-z2-9]{5}$")


@dataclass
class _PendingVote:
    round_id: int
    argument_id: int


class TextCommands:
    """Turns an :class:`Incoming` into engine calls and replies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.m = engine.messages
        # Which argument each member was last shown, so that "d"/"p"/"n" can answer it. In
        # memory only (keyed by the platform id for the duration of a vote), never stored.
        self._pending: dict[tuple[str, str], _PendingVote] = {}
        # Per platform, who moderates which channel (set by the app from the adapters).
        self.moderator_checks: dict[str, ModeratorCheck] = {}

    def awaiting_vote(self, platform: str, user_id: str) -> bool:
        """Whether this member was shown an argument and its d/p/n answer is awaited."""
        return (platform, user_id) in self._pending

    def is_command(self, text: str) -> bool:
        return text.lstrip().startswith("!")

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
            if key in self._pending and text.lower() in VOTE_ANSWERS:
                return await self._answer_vote(msg, VOTE_ANSWERS[text.lower()])
            if msg.is_dm and text:
                return [
                    self._private(self.m("unknown_command", command=escape_markdown(text[:30])))
                ]
            return []
        word, _, rest = text[1:].partition(" ")
        command = MEMBER_COMMANDS.get(word.lower())
        try:
            if command is None:
                return [
                    self._private(
                        self.m("unknown_command", command=escape_markdown("!" + word[:30]))
                    )
                ]
            if command == "help":
                return [await self._help(msg)]
            if command == "debat":
                return await self._moderate(msg, rest.strip())
            if command == "position":
                return await self._position(msg, rest.strip())
            if command == "mine":
                return await self._mine(msg, rest.strip())
            if command == "withdraw":
                return await self._withdraw(msg, rest.strip())
            if command == "vote":
                return await self._vote(msg, rest.strip())
        except EngineError as err:
            return [self._private(err.render(self.m))]
        return []

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _private(text: str) -> Reply:
        return Reply(text=text, visibility=Visibility.PRIVATE)

    async def _help(self, msg: Incoming) -> Reply:
        stances = sorted({s for r in self.engine.open_rounds() for s in r.stances}) or [
            "pour",
            "contre",
            "nuance",
            "abstention",
        ]
        text = self.m("help", stances=", ".join(stances))
        if await self._moderates(msg, self.engine.moderated_channels()):
            text += "\n\n" + self.m("help_moderator")
        return self._private(text)

    async def _moderates(self, msg: Incoming, channels: Iterable[ChannelRef]) -> bool:
        """Whether the sender moderates one of ``channels`` (on the sender's own platform)."""
        check = self.moderator_checks.get(msg.platform)
        if check is None:
            return False
        for channel in dict.fromkeys(channels):
            if channel.platform == msg.platform and await check.moderates(msg.user_id, channel):
                return True
        return False

    def _round(self, msg: Incoming, code: str | None) -> OpenRound:
        return self.engine.resolve_round(
            code, msg.channel, msg.shared_channels, platform=msg.platform
        )

    def _split_code(self, rest: str) -> tuple[str | None, str]:
        """``"ABCDE pour …"`` -> (``"ABCDE"``, ``"pour …"``) when the first word is a code."""
        first, _, tail = rest.partition(" ")
        if _CODE.match(first) and first.lower() not in STANCE_ALIASES:
            return first.upper(), tail.strip()
        return None, rest

    # ------------------------------------------------------------------ members

    async def _position(self, msg: Incoming, rest: str) -> list[Reply]:
        code, rest = self._split_code(rest)
        r = self._round(msg, code)
        stance_word, _, argument = rest.partition(" ")
        if not stance_word:
            raise EngineError("missing_stance", choices=self.m.stance_choices(r.stances))
        stance, number = await self.engine.submit_position(
            r.id, msg.platform, msg.user_id, stance_word, argument or None
        )
        label = self.engine.stance_label(r.debate_id, stance)
        lines = [self.m("position_recorded", stance=label, code=r.code)]
        if number is not None:
            lines.append(self.m("argument_recorded", number=number))
        if msg.channel is not None:
            lines.append(self.m("answer_privately"))
        return [self._private("\n".join(lines))]

    async def _mine(self, msg: Incoming, rest: str) -> list[Reply]:
        code, _ = self._split_code(rest)
        r = self._round(msg, code)
        mine = await self.engine.my_position(r.id, msg.platform, msg.user_id)
        return [self._private(self.engine.describe_position(r, mine))]

    async def _withdraw(self, msg: Incoming, rest: str) -> list[Reply]:
        code, _ = self._split_code(rest)
        r = self._round(msg, code)
        removed = await self.engine.withdraw(r.id, msg.platform, msg.user_id)
        self._pending.pop((msg.platform, msg.user_id), None)
        key = "withdrawn" if removed else "nothing_to_withdraw"
        return [self._private(self.m(key, code=r.code))]

    async def _vote(self, msg: Incoming, rest: str) -> list[Reply]:
        code, _ = self._split_code(rest)
        r = self._round(msg, code)
        return [await self._next_prompt(msg, r.id)]

    async def _next_prompt(self, msg: Incoming, round_id: int) -> Reply:
        key = (msg.platform, msg.user_id)
        nxt = await self.engine.next_argument(round_id, msg.platform, msg.user_id)
        if nxt is None:
            self._pending.pop(key, None)
            return self._private(self.m("vote_none_left"))
        self._pending[key] = _PendingVote(round_id, nxt.argument_id)
        text = escape_markdown(nxt.text).replace("\n", "\n> ")
        return self._private(
            self.m("vote_prompt", number=nxt.number, remaining=nxt.remaining, text=text)
        )

    async def _answer_vote(self, msg: Incoming, value: int) -> list[Reply]:
        key = (msg.platform, msg.user_id)
        pending = self._pending.pop(key)
        try:
            await self.engine.vote(
                pending.round_id, msg.platform, msg.user_id, pending.argument_id, value
            )
            return [await self._next_prompt(msg, pending.round_id)]
        except EngineError as err:
            return [self._private(err.render(self.m))]

    # ------------------------------------------------------------------ moderators

    async def _moderate(self, msg: Incoming, rest: str) -> list[Reply]:
        """A moderator command: rights are checked against the target round's own channels.

        Whatever goes wrong before the rights are known (an unknown code, no round to act on)
        is answered as for a non-moderator unless the sender moderates some channel of the
        bot, so outsiders learn nothing about rounds from the answers.
        """
        word, _, args = rest.partition(" ")
        action = MODERATOR_ACTIONS.get(word.lower())
        if action is None and word.lower() in ("participer", "join"):
            return [await self._help(msg)]
        refused = [self._private(self.m("not_moderator"))]
        if action is None:
            if await self._moderates(msg, self.engine.moderated_channels()):
                return [self._private(self.m("help_moderator"))]
            return refused
        args = args.strip()
        try:
            channels, target = await self._target(msg, action, args)
        except EngineError:
            if await self._moderates(msg, self.engine.moderated_channels()):
                raise
            return refused
        if not await self._moderates(msg, channels):
            return refused
        if action == "open":
            return await self._open(args)
        if action == "export":
            assert isinstance(target, RoundInfo)
            return await self._export(msg, args, target)
        assert isinstance(target, OpenRound)
        r = target
        if action == "close":
            await self.engine.close_round(r.id)
            return [self._private(self.m("round_closing", code=r.code))]
        if action == "extend":
            duration = args.partition(" ")[0]
            try:
                delta = parse_duration(duration)
            except ValueError as exc:
                return [self._private(self.m("invalid_duration", error=escape_markdown(str(exc))))]
            closes = await self.engine.extend_round(r.id, delta)
            log.info("round %s extended by %s", r.id, format_duration(delta))
            return [
                self._private(
                    self.m("round_extended", code=r.code, closes=self.engine.format_time(closes))
                )
            ]
        return await self._hide(action, args, r)

    async def _target(
        self, msg: Incoming, action: str, args: str
    ) -> tuple[tuple[ChannelRef, ...], OpenRound | RoundInfo | None]:
        """What ``action`` with ``args`` acts on, and the channels whose moderators may run it.

        Resolved once: the action then uses this very round, not a second lookup.
        """
        if action == "open":
            debate_id = args.split(" ")[0] if args else ""
            return self.engine.debate_channels(debate_id), None
        if action == "export":
            info = await self._export_round(msg, args.partition(" ")[2].strip())
            return info.channel_refs, info
        if action == "close":
            code = self._split_code(args)[0]
        else:  # extend, hide, restore: the code comes after the duration or the number
            code = self._split_code(args.partition(" ")[2].strip())[0]
        r = self._round(msg, code)
        return r.channels, r

    async def _open(self, args: str) -> list[Reply]:
        debate_id = args.split(" ")[0] if args else ""
        if not debate_id:
            choices = ", ".join(d.id for d in self.engine.config.debates) or "-"
            raise EngineError("unknown_debate", debate="", choices=choices)
        info = await self.engine.open_round(debate_id)
        return [self._private(self.m("round_opened", code=info.code, question=info.question))]

    async def _export_round(self, msg: Incoming, code: str) -> RoundInfo:
        """The round an export is about: the one with ``code``, else this channel's latest."""
        if code:
            info = await self.engine.find_round(code)
            if info is None:
                raise EngineError("unknown_round", code=escape_markdown(code[:20]))
            return info
        latest = await self.engine.latest_summarised(msg.channel)
        found = None if latest is None else await self.engine.round_info(latest)
        if found is None:
            raise EngineError("no_round_to_export")
        return found

    async def _export(self, msg: Incoming, args: str, info: RoundInfo) -> list[Reply]:
        fmt = (args.partition(" ")[0] or "md").lower()
        if fmt not in EXPORT_FORMATS:
            raise EngineError(
                "unknown_format",
                format=escape_markdown(fmt[:20]),
                choices=", ".join(EXPORT_FORMATS),
            )
        attachment = await self.engine.export(info.id, fmt)
        return [
            Reply(
                text=self.m("export_ready", code=info.code, format=fmt),
                visibility=Visibility.CHANNEL if msg.channel else Visibility.PRIVATE,
                attachments=(attachment,),
            )
        ]

    async def _hide(self, action: str, args: str, r: OpenRound) -> list[Reply]:
        number_text = args.partition(" ")[0]
        word = "masquer" if action == "hide" else "restaurer"
        if not number_text.lstrip("#").isdigit():
            return [self._private(self.m("missing_argument_number", action=word))]
        number = int(number_text.lstrip("#"))
        await self.engine.set_hidden(r.id, number, action == "hide")
        key = "argument_hidden" if action == "hide" else "argument_restored"
        return [self._private(self.m(key, number=number))]
