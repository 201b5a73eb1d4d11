"""What members do: give a stance or an argument, see or withdraw it, vote, ask for help."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from bot.engine import Engine, EngineError, OpenRound
from bot.text import escape_markdown
from bot.usecases.answers import read_stance
from bot.usecases.results import (
    Actor,
    ArgumentForm,
    ArgumentResult,
    Choice,
    HelpResult,
    MineResult,
    PositionResult,
    RoundLine,
    RoundsResult,
    VotePrompt,
    VoteResult,
    WithdrawResult,
)

log = logging.getLogger(__name__)

# The length allowed for an argument when the round's debate is no longer configured.
DEFAULT_ARGUMENT_MAX = 1000
# An autocomplete list holds at most this many suggestions.
CHOICES_MAX = 25


def wanted_code(code: str | None) -> str | None:
    """A round code as typed, or None when none was given (blank counts as none)."""
    return code.strip() if code and code.strip() else None


class CaseBase:
    """What every use-case needs: the engine, its catalogue, and the rounds in reach."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.m = engine.messages

    def open_round(self, round_id: int) -> OpenRound:
        """The open round with this id; a closed one is refused with the engine's message."""
        r = self.engine.open_round_by_id(round_id)
        if r is None:
            raise EngineError("round_closed")
        return r

    def find_round(self, actor: Actor, code: str | None) -> OpenRound:
        """The open round a member means: the one with ``code``, else the one where they are."""
        return self.engine.resolve_round(
            wanted_code(code), actor.channel, actor.shared_channels, platform=actor.platform
        )

    def platform_rounds(self, platform: str) -> list[OpenRound]:
        """The open rounds posted on ``platform``."""
        return [
            r for r in self.engine.open_rounds() if any(c.platform == platform for c in r.channels)
        ]

    def stance_labels(self, r: OpenRound) -> tuple[tuple[str, str], ...]:
        return tuple((s, self.engine.stance_label(r.debate_id, s)) for s in r.stances)

    def voting(self, r: OpenRound) -> bool:
        """Whether members vote on the arguments of this round's debate."""
        try:
            return self.engine.config.debate(r.debate_id).statement_voting
        except KeyError:
            return True

    def question(self, r: OpenRound) -> str:
        return self.engine.question_text(r.debate_id, r.question_id)

    async def moderates_somewhere(self, actor: Actor) -> bool:
        """Whether the actor moderates any channel of the bot's debates or open rounds."""
        return await actor.moderates(self.engine.moderated_channels())

    def round_choices(
        self, actor: Actor, current: str, rounds: Iterable[OpenRound] | None = None
    ) -> list[Choice]:
        """Open rounds (by default every one on the actor's platform), the actor's channel's
        first, filtered by what they typed."""
        candidates = self.platform_rounds(actor.platform) if rounds is None else list(rounds)
        ordered = sorted(candidates, key=lambda r: (actor.channel not in r.channels, r.id))
        needle = current.strip().lower()
        choices = []
        for r in ordered:
            question = self.question(r)
            if needle and needle not in r.code.lower() and needle not in question.lower():
                continue
            choices.append(Choice(f"{r.code} — {question}", r.code))
        return choices[:CHOICES_MAX]


class MemberCases(CaseBase):
    """The members' use-cases. Rounds are named by id (see :meth:`CaseBase.find_round`)."""

    async def position(
        self, actor: Actor, round_id: int, stance_word: str, argument: str | None = None
    ) -> PositionResult:
        r = self.open_round(round_id)
        stance, number = await self.engine.submit_position(
            round_id,
            actor.platform,
            actor.user_id,
            self._stance_id(r, stance_word),
            argument or None,
        )
        label = self.engine.stance_label(r.debate_id, stance)
        lines = [self.m("position_recorded", stance=label, code=r.code)]
        if number is not None:
            lines.append(self.recorded(r, number))
        return PositionResult(r, stance, label, number, self.voting(r), "\n".join(lines))

    def _stance_id(self, r: OpenRound, word: str) -> str:
        """A stance given on its own (a slash command's option) by its number, id or whole
        label, as typed ones are; anything else goes to the engine, which refuses it."""
        if word in r.stances:
            return word  # a button's or a suggestion's id: the common case, kept cheap
        options = [(s, self.engine.stance_names(r.debate_id, s)) for s in r.stances]
        read = read_stance(word, options)
        return read[0] if read is not None and not read[1] else word

    async def position_text(self, actor: Actor, code: str | None, rest: str) -> PositionResult:
        """``!position [code] <stance> [argument]`` as typed: the stance by its number, id or
        whole label (longest first, so a label is never split into the argument)."""
        r = self.find_round(actor, code)
        if not rest.strip():
            raise EngineError("missing_stance", choices=self.engine.numbered_stances(r))
        options = [(s, self.engine.stance_names(r.debate_id, s)) for s in r.stances]
        read = read_stance(rest, options)
        if read is None:
            raise EngineError(
                "unknown_stance",
                stance=escape_markdown(rest.split()[0][:40]),
                choices=self.engine.numbered_stances(r),
            )
        stance, argument = read
        return await self.position(actor, r.id, stance, argument or None)

    def argument_form(self, round_id: int) -> ArgumentForm:
        r = self.open_round(round_id)
        try:
            max_chars = self.engine.config.debate(r.debate_id).argument_max_chars
        except KeyError:
            max_chars = DEFAULT_ARGUMENT_MAX
        return ArgumentForm(r, max_chars)

    async def argument(self, actor: Actor, round_id: int, text: str) -> ArgumentResult:
        r = self.open_round(round_id)
        number = await self.engine.add_argument(round_id, actor.platform, actor.user_id, text)
        return ArgumentResult(r, number, self.recorded(r, number))

    def recorded(self, r: OpenRound, number: int) -> str:
        """What a member hears of their new argument: recorded, or held for review."""
        if r.is_pending(number):
            return self.m("argument_pending", number=number)
        return self.m("argument_recorded", number=number)

    async def mine(
        self, actor: Actor, round_id: int, escape: Callable[[str], str] = escape_markdown
    ) -> MineResult:
        """The actor's stance and arguments; ``escape`` renders their own text safely."""
        r = self.open_round(round_id)
        mine = await self.engine.my_position(round_id, actor.platform, actor.user_id)
        text = self.engine.describe_position(r, mine, escape)
        return MineResult(r, mine, self.stance_labels(r), text)

    async def withdraw(self, actor: Actor, round_id: int) -> WithdrawResult:
        r = self.open_round(round_id)
        removed = await self.engine.withdraw(round_id, actor.platform, actor.user_id)
        text = self.m("withdrawn" if removed else "nothing_to_withdraw", code=r.code)
        return WithdrawResult(r, removed, text)

    async def next_vote(self, actor: Actor, round_id: int) -> VotePrompt:
        nxt = await self.engine.next_argument(round_id, actor.platform, actor.user_id)
        if nxt is None:
            return VotePrompt(round_id, None, self.m("vote_none_left"))
        quoted = escape_markdown(nxt.text).replace("\n", "\n> ")
        shown = {"number": nxt.number, "remaining": nxt.remaining, "text": quoted}
        if nxt.carried_from is None:
            text = self.m("vote_prompt", **shown)
        else:  # nobody's argument, from an earlier round's summary
            text = self.m("vote_prompt_carried", code=nxt.carried_from, **shown)
        return VotePrompt(round_id, nxt, text)

    async def await_answer(self, actor: Actor, round_id: int, argument_id: int | None) -> None:
        """Keep which argument the actor's next typed answer is for (None: none), by
        pseudonym in the database, so that it still applies after a restart. A failure to keep
        it is only logged: the prompt (and a vote just recorded) stand, and the answer still
        applies until a restart."""
        try:
            await self.engine.remember_prompt(round_id, actor.platform, actor.user_id, argument_id)
        except Exception as exc:
            log.warning("the vote awaited could not be kept: %s", type(exc).__name__)

    async def pending_answer(self, actor: Actor) -> tuple[int, int] | None:
        """``(round id, argument id)`` the actor's typed answer is for, as kept."""
        return await self.engine.pending_vote(actor.platform, actor.user_id)

    async def vote(
        self,
        actor: Actor,
        round_id: int,
        value: int,
        *,
        number: int | None = None,
        argument_id: int | None = None,
    ) -> VoteResult:
        """Vote on the argument with this public ``number`` (or database ``argument_id``),
        then the next prompt."""
        if argument_id is None:
            if number is None:
                raise ValueError("a vote names its argument")
            argument_id = self.engine.argument_id(round_id, number)
        await self.engine.vote(round_id, actor.platform, actor.user_id, argument_id, value)
        return VoteResult(round_id, argument_id, await self.next_vote(actor, round_id))

    def rounds_here(self, actor: Actor) -> list[OpenRound]:
        """The open rounds where the actor is: their channel's, else those of the channels
        they share with the bot, else every open round of their platform."""
        rounds = self.platform_rounds(actor.platform)
        for scope in ({actor.channel} - {None}, set(actor.shared_channels)):
            here = [r for r in rounds if scope.intersection(r.channels)]
            if here:
                return here
        return rounds

    async def help(self, actor: Actor) -> HelpResult:
        """What the help shows: the stances of the rounds open where the actor is."""
        rounds = self.rounds_here(actor)
        stances = tuple(dict.fromkeys(s for r in rounds for s in r.stances))
        where = "\n\n".join(
            self.m(
                "help_round",
                code=r.code,
                question=self.question(r),
                stances=self.engine.numbered_stances(r),
            )
            for r in rounds
        )
        return HelpResult(
            stances, await self.moderates_somewhere(actor), where or self.m("help_no_round")
        )

    def rounds(self, actor: Actor) -> RoundsResult:
        """The open rounds of the actor's platform, with their channels there."""
        return RoundsResult(
            tuple(
                RoundLine(
                    r.code,
                    self.question(r),
                    r.closes_at,
                    tuple(c for c in r.channels if c.platform == actor.platform),
                )
                for r in self.platform_rounds(actor.platform)
            )
        )

    def stance_choices(self, actor: Actor, code: str | None, current: str) -> list[Choice]:
        """The stances of the round a member means, filtered by what they typed."""
        try:
            stances = self.stance_labels(self.find_round(actor, code))
        except EngineError:
            stances = ()
        needle = current.strip().lower()
        return [
            Choice(label, stance)
            for stance, label in stances
            if not needle or needle in stance or needle in label.lower()
        ][:CHOICES_MAX]
