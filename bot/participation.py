"""What members do in an open round: take a stance, argue, withdraw, read back, vote.

A member is known here only by their per-round pseudonym, computed at once from the platform
and user id. Everything is validated before anything is written; a write that reaches the
database after the round closed is refused with ``round_closed`` (see :func:`while_open`).
"""

from __future__ import annotations

import random
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Connection

from bot import store
from bot.anonymity import pseudonym
from bot.core import Core, EngineError, OpenRound, fold
from bot.text import clean_member_text, escape_markdown
from bot.writer import RoundNotOpen, StanceOp, VoteOp

T = TypeVar("T")
VOTE_VALUES = {"agree": 1, "disagree": -1, "pass": 0}


@dataclass(frozen=True)
class MyPosition:
    round_code: str
    stance: str | None
    arguments: tuple[tuple[int, str], ...]
    # The numbers of those still awaiting a moderator's review (``moderation: pre``).
    pending: tuple[int, ...] = ()


@dataclass(frozen=True)
class ArgumentToVote:
    argument_id: int
    number: int
    text: str
    remaining: int
    carried_from: str | None = None  # the earlier round's code, for a carried-over argument


class RateLimiter:
    """At most ``limit`` actions per sliding minute per pseudonym (kept only in memory)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] > self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise EngineError("rate_limited")
        hits.append(now)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._hits.pop(key, None)


async def while_open(write: Awaitable[T]) -> T:
    """Await a write into an open round: one that lost the race with a close is refused.

    The group writer checks, inside the write's transaction, that the round is still open;
    when it is not (a close got there first), nothing was written and the caller hears
    ``round_closed``.
    """
    try:
        return await write
    except RoundNotOpen:
        raise EngineError("round_closed") from None


def _random_number(taken: set[int]) -> int:
    rng = random.SystemRandom()
    upper = 99
    while len(taken) * 3 > upper:
        upper = upper * 10 + 9
    while True:
        candidate = rng.randint(1, upper)
        if candidate not in taken:
            return candidate


class Participation:
    """The members' use-cases."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.limiter = RateLimiter(core.config.limits.actions_per_minute)

    def participant(self, r: OpenRound, platform: str, user_id: str) -> str:
        name = pseudonym(self.core.secret, r.salt, platform, user_id)
        self.limiter.check(name)
        return name

    def parse_stance(self, r: OpenRound, word: str) -> str:
        from bot.i18n import STANCE_ALIASES

        lowered = word.strip().lower()
        stance = STANCE_ALIASES.get(lowered, lowered)
        if stance not in r.stances:
            # Members may also type a stance's label, with or without accents ("États").
            wanted = fold(word)
            for candidate in r.stances:
                label = self.core.stance_label(r.debate_id, candidate)
                if wanted in (fold(candidate), fold(label)):
                    stance = candidate
                    break
        if stance not in r.stances:
            raise EngineError(
                "unknown_stance",
                stance=escape_markdown(word[:40]),
                choices=self.core.numbered_stances(r),
            )
        return stance

    def clean_argument(self, r: OpenRound, text: str) -> str:
        cleaned = clean_member_text(text)
        if not cleaned:
            raise EngineError("argument_empty")
        limit = self.core.argument_limit(r.debate_id)
        if len(cleaned) > limit:
            raise EngineError("argument_too_long", length=len(cleaned), max=limit)
        return cleaned

    async def submit_position(
        self,
        round_id: int,
        platform: str,
        user_id: str,
        stance_word: str,
        argument: str | None = None,
    ) -> tuple[str, int | None]:
        """Record (or change) a stance, and add an argument if given.

        Everything is validated before anything is written, and a stance with its argument is
        one transaction: both are recorded or neither (a refused argument leaves the stance as
        it was). Returns the stance id and the argument's public number.
        """
        r = self.core.require_open(round_id)
        stance = self.parse_stance(r, stance_word)
        cleaned = self.clean_argument(r, argument) if argument and argument.strip() else None
        participant = self.participant(r, platform, user_id)
        if cleaned is None:
            await while_open(self.core.writer.submit(StanceOp(r.id, participant, stance)))
            return stance, None
        number = await self.insert_argument(r, participant, cleaned, stance=stance)
        return stance, number

    async def add_argument(self, round_id: int, platform: str, user_id: str, text: str) -> int:
        r = self.core.require_open(round_id)
        cleaned = self.clean_argument(r, text)
        participant = self.participant(r, platform, user_id)
        return await self.insert_argument(r, participant, cleaned)

    async def insert_argument(
        self, r: OpenRound, participant: str, text: str, *, stance: str | None = None
    ) -> int:
        """Store an argument (and the stance given with it) in one transaction.

        Sending the same argument again (a member re-sending a message that got no answer,
        say after a crash) stores nothing new and answers with the number it already has. The
        quota is checked inside the write, where one member's concurrent submissions are
        serialised, so they cannot all pass a check made before waiting.
        """
        number = _random_number({num for num, _, _ in r.arguments.values()})
        limit = self.core.config.limits.arguments_per_participant
        debate = self.core.debate_or_none(r.debate_id)
        held = debate is not None and debate.moderation == "pre"
        queued = debate is not None and debate.moderation_channel is not None

        def insert(conn: Connection) -> tuple[int, int, bool]:
            # Raising rolls this write's savepoint back: a refused argument leaves no stance.
            if stance is not None:
                store.set_stance(conn, r.id, participant, stance)
            mine = store.arguments_by(conn, r.id, participant)
            for row in mine:
                if row.text == text:
                    return row.id, row.number, False
            if len(mine) >= limit:
                raise EngineError("too_many_arguments", max=limit)
            chosen = number
            taken = store.argument_numbers(conn, r.id)
            if chosen in taken:
                # Another process (its cache is not this one's) gave that number meanwhile.
                chosen = _random_number(taken | {num for num, _, _ in r.arguments.values()})
            arg_id = store.insert_argument(conn, r.id, participant, chosen, text, pending=held)
            if queued:
                # In the argument's own transaction: acknowledged means it will be posted.
                store.queue_for_moderation(conn, r.id, arg_id)
            return arg_id, chosen, True

        # Reserve the number now so a concurrent insert cannot pick it too.
        r.arguments[-number] = (number, participant, True)
        try:
            arg_id, stored_number, created = await while_open(
                self.core.writer.call(insert, round_id=r.id)
            )
        finally:
            r.arguments.pop(-number, None)
        if created:
            r.arguments[arg_id] = (stored_number, participant, False)
            if held:
                r.pending.add(arg_id)
        return stored_number

    async def withdraw(self, round_id: int, platform: str, user_id: str) -> bool:
        """Remove the member's stance, arguments and votes. False if there was nothing."""
        r = self.core.require_open(round_id)
        participant = self.participant(r, platform, user_id)

        def delete(conn: Connection) -> int:
            return store.delete_participant(conn, r.id, participant)

        removed = await while_open(self.core.writer.call(delete, round_id=r.id))
        for arg_id in [k for k, (_, author, _) in r.arguments.items() if author == participant]:
            del r.arguments[arg_id]
            r.pending.discard(arg_id)
        return removed > 0

    async def my_position(self, round_id: int, platform: str, user_id: str) -> MyPosition:
        r = self.core.require_open(round_id)
        participant = self.participant(r, platform, user_id)

        def read(conn: Connection) -> tuple[str | None, list[store.ArgumentRow]]:
            return (
                store.stance_of(conn, r.id, participant),
                store.arguments_by(conn, r.id, participant),
            )

        stance, args = await self.core.db.read(read)
        return MyPosition(
            r.code,
            stance,
            tuple((a.number, a.text) for a in args),
            tuple(a.number for a in args if a.pending),
        )

    async def next_argument(
        self, round_id: int, platform: str, user_id: str
    ) -> ArgumentToVote | None:
        """A random visible argument the member has not voted on and did not write."""
        r = self.core.require_open(round_id)
        self._require_voting(r)
        participant = self.participant(r, platform, user_id)
        voted = await self.core.db.read(
            lambda conn: store.voted_arguments(conn, r.id, participant)
        )
        choices = [
            arg_id
            for arg_id, (_, author, hidden) in r.arguments.items()
            if arg_id > 0
            and not hidden
            and arg_id not in r.pending
            and author != participant
            and arg_id not in voted
        ]
        if not choices:
            return None
        arg_id = secrets.choice(choices)
        number = r.arguments[arg_id][0]
        row = await self.core.db.read(lambda conn: store.argument(conn, arg_id))
        origin = row.carried["round"] if row.carried else None
        return ArgumentToVote(arg_id, number, row.text, len(choices), origin)

    async def remember_prompt(
        self, round_id: int, platform: str, user_id: str, argument_id: int | None
    ) -> None:
        """Keep (by pseudonym) the argument the member is asked to vote on, None for none, so
        that their answer still applies after a restart. Not rate limited: it follows a
        prompt that was."""
        r = self.core.open.get(round_id)
        if r is None:
            return
        participant = pseudonym(self.core.secret, r.salt, platform, user_id)

        def write(conn: Connection) -> None:
            store.set_pending_vote(conn, r.id, participant, argument_id)

        try:
            await self.core.writer.call(write, round_id=r.id)
        except RoundNotOpen:
            return  # closed meanwhile: nothing is waiting any more

    async def pending_vote(self, platform: str, user_id: str) -> tuple[int, int] | None:
        """``(round id, argument id)`` of the vote this member was last asked for, if any."""
        for r in self.core.open_rounds():
            participant = pseudonym(self.core.secret, r.salt, platform, user_id)

            def read(conn: Connection, r: OpenRound = r, who: str = participant) -> int | None:
                return store.pending_vote(conn, r.id, who)

            argument_id = await self.core.db.read(read)
            if argument_id is not None and argument_id in r.arguments:
                return r.id, argument_id
        return None

    def _require_voting(self, r: OpenRound) -> None:
        if not self.core.statement_voting(r.debate_id):
            raise EngineError("voting_disabled")

    async def vote(
        self, round_id: int, platform: str, user_id: str, argument_id: int, value: int
    ) -> None:
        if value not in (-1, 0, 1):
            raise ValueError("a vote is -1, 0 or 1")
        r = self.core.require_open(round_id)
        self._require_voting(r)
        participant = self.participant(r, platform, user_id)
        info = r.arguments.get(argument_id)
        if info is None or info[2] or argument_id < 0 or argument_id in r.pending:
            number = info[0] if info is not None else "?"
            raise EngineError("unknown_argument", number=number, code=r.code)
        if info[1] == participant:
            raise EngineError("vote_own")
        await while_open(self.core.writer.submit(VoteOp(r.id, argument_id, participant, value)))
