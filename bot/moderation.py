"""What moderators do: read and hide arguments, open and close rounds, find and export them."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection

from bot import store
from bot.core import Core, EngineError, OpenRound, RoundInfo
from bot.events import Attachment, ChannelRef
from bot.lifecycle import Action
from bot.outage import checkpoint
from bot.participation import while_open
from bot.rounds import Rounds
from bot.summary.export import EXPORT_FORMATS, export_summary
from bot.text import escape_markdown


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

    async def open_round(self, debate_id: str, *, opened_by: str = "moderator") -> RoundInfo:
        """Create and open a round of ``debate_id`` now."""
        debate = self.core.debate(debate_id, escape_markdown(debate_id))
        round_id = await self.rounds.create_round(debate, self.core.clock(), opened_by=opened_by)
        # The round exists from here on (the next tick opens it if this call fails).
        checkpoint()
        await self.rounds.apply(round_id, Action.OPEN)
        info = await self.core.round_info(round_id)
        assert info is not None
        return info

    async def close_round(self, round_id: int) -> bool:
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
