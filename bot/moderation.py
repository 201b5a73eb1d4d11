"""What moderators do: read, hide and approve arguments, open and close rounds, find and export
them; and the moderation channel's shuffled batches of new arguments."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy.engine import Connection

from bot import store
from bot.core import Core, EngineError, OpenRound, RoundInfo, moderator_action
from bot.events import Attachment, ChannelRef
from bot.lifecycle import Action
from bot.outage import checkpoint
from bot.participation import while_open
from bot.rounds import Rounds
from bot.summary.export import EXPORT_FORMATS, export_summary
from bot.text import escape_markdown
from bot.writer import RoundNotOpen


class Moderation:
    """The moderators' use-cases."""

    def __init__(self, core: Core, rounds: Rounds) -> None:
        self.core = core
        self.rounds = rounds

    async def list_arguments(self, round_id: int) -> list[tuple[int, str, bool]]:
        """(number, text, hidden) of every argument of an open round, for moderators."""
        return [(a.number, a.text, a.hidden) for a in await self.argument_rows(round_id)]

    async def argument_rows(self, round_id: int) -> list[store.ArgumentRow]:
        """Every argument of an open round, by number, carried-over ones with their origin."""
        r = self.core.require_open(round_id)
        return await self.core.db.read(lambda conn: store.round_arguments(conn, r.id))

    def argument_id(self, round_id: int, number: int) -> int:
        """The id of the argument an open round shows as ``number``."""
        return _numbered(self.core.require_open(round_id), number)

    async def set_hidden(self, round_id: int, number: int, hidden: bool) -> None:
        r = self.core.require_open(round_id)
        arg_id = _numbered(r, number)

        def update(conn: Connection) -> None:
            store.set_hidden(conn, arg_id, hidden)

        await while_open(self.core.writer.call(update, round_id=r.id))
        num, author, _ = r.arguments[arg_id]
        r.arguments[arg_id] = (num, author, hidden)

    def pending_numbers(self, round_id: int) -> set[int]:
        """The numbers of an open round's arguments held for approval."""
        r = self.core.require_open(round_id)
        return {r.arguments[i][0] for i in r.pending if i in r.arguments}

    async def approve(self, round_id: int, number: int) -> None:
        """Put an argument held for approval to the vote.

        Refused, changing nothing, for an argument that was never held or is approved
        already, and for a hidden one (hiding a held argument rejects it).
        """
        r = self.core.require_open(round_id)
        arg_id = _numbered(r, number)
        if r.arguments[arg_id][2]:
            raise EngineError("approve_hidden", number=number)
        if arg_id not in r.pending:
            raise EngineError("approve_not_pending", number=number)

        def update(conn: Connection) -> bool:
            return store.approve_argument(conn, arg_id)

        if not await while_open(self.core.writer.call(update, round_id=r.id)):
            raise EngineError("approve_not_pending", number=number)
        r.pending.discard(arg_id)

    async def post_batches(self, debate_id: str | None = None) -> int:
        """Empty each open round's moderation queue into one post to its debate's moderation
        channel, the arguments shuffled; how many posts were queued.

        The queue rows are deleted in the transaction that owes the post, so an argument is
        posted once, and a restart in between loses nothing. A debate whose moderation
        channel was removed from the config posts nothing: its queued rows are dropped here,
        or with the round's other rows when it closes.
        """
        posted = 0
        for r in self.core.open_rounds():
            if debate_id is not None and r.debate_id != debate_id:
                continue
            debate = self.core.debate_or_none(r.debate_id)
            channel = None if debate is None else debate.moderation_channel
            target = None if channel is None else f"{channel.platform}:{channel.key}"

            def take(conn: Connection, rid: int = r.id, target: str | None = target) -> bool:
                queued = store.take_moderation_queue(conn, rid)
                if not queued or target is None:
                    return False
                # The whole batch, so that the order says nothing of when each came in.
                secrets.SystemRandom().shuffle(queued)
                store.insert_moderation_batch(conn, rid, target, queued, self.core.clock())
                return True

            try:
                if await self.core.writer.call(take, round_id=r.id):
                    posted += 1
            except RoundNotOpen:
                continue  # closed meanwhile: its queue went with the close
        if posted:
            self.core.hooks.on_outbox()
        return posted

    async def open_round(self, debate_id: str, *, opened_by: str = "moderator") -> RoundInfo:
        """Create and open a round of ``debate_id`` now."""
        debate = self.core.debate(debate_id, escape_markdown(debate_id))
        with moderator_action():
            round_id = await self.rounds.create_round(
                debate, self.core.clock(), opened_by=opened_by
            )
            # The round exists from here on (the next tick opens it if this call fails).
            checkpoint()
            await self.rounds.apply(round_id, Action.OPEN)
        info = await self.core.round_info(round_id)
        assert info is not None
        return info

    async def close_round(self, round_id: int) -> bool:
        with moderator_action():
            return await self.rounds.apply(round_id, Action.CLOSE)

    async def export(self, round_id: int, fmt: str) -> Attachment:
        if fmt not in EXPORT_FORMATS:
            raise EngineError(
                "unknown_format",
                format=escape_markdown(fmt[:20]),
                choices=", ".join(EXPORT_FORMATS),
            )
        summary = await self.core.summary(round_id)
        if summary is None:
            info = await self.core.round_info(round_id)
            raise EngineError("export_not_ready", code=info.code if info else round_id)
        checkpoint()  # what is left is rendering, not the database
        return await asyncio.to_thread(export_summary, summary, fmt)

    async def latest_summarised(self, channel: ChannelRef | None = None) -> int | None:
        shown = None if channel is None else str(channel)
        return await self.core.db.read(lambda conn: store.latest_summarised(conn, shown))

    async def find_round(self, code: str) -> RoundInfo | None:
        round_id = await self.core.db.read(lambda conn: store.round_id_by_code(conn, code))
        return None if round_id is None else await self.core.round_info(round_id)


def _numbered(r: OpenRound, number: int) -> int:
    arg_id = r.argument_by_number(number)
    if arg_id is None:
        raise EngineError("unknown_argument", number=number, code=r.code)
    return arg_id
