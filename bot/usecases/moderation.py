"""What moderators do: open, close, extend, export, and hide, restore or approve arguments.

The moderator decision is made here, once, from the one fact the platform supplies
(:attr:`Actor.moderates`): rights are asked about the target's own channels (a round's, or a
debate's), never about where the command was typed. Every refusal is the same
``not_moderator``; a target that cannot be found (an unknown code or debate, no round to act
on) is explained only to someone who moderates some channel of the bot, so that outsiders
learn nothing about rounds from the answers.

Each lookup returns an authorised handle (:class:`RoundModeration`, :class:`DebateModeration`,
:class:`ExportTarget`): the action then uses that very target, not a second lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bot.durations import format_duration, parse_duration
from bot.engine import EngineError, OpenRound, RoundInfo
from bot.events import ChannelRef
from bot.summary.export import export_format_names
from bot.text import escape_markdown
from bot.usecases.members import CHOICES_MAX, CaseBase, wanted_code
from bot.usecases.results import (
    Actor,
    ApproveResult,
    Choice,
    CloseResult,
    ExportResult,
    ExtendResult,
    HideResult,
    ModeratedArgument,
    ModerationListResult,
    OpenResult,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
# The command words named by "give the argument number" (the same in both languages).
HIDE_WORDS = {True: "masquer", False: "restaurer"}
# Arguments shown per page of ``!debat arguments``.
LIST_PAGE = 10


class RoundModeration:
    """An open round the actor moderates (checked when this was made)."""

    def __init__(self, cases: ModerationCases, round_id: int, r: OpenRound | None) -> None:
        self.cases = cases
        self.engine = cases.engine
        self.m = cases.m
        self.round_id = round_id
        self._round = r

    @property
    def round(self) -> OpenRound:
        """The round as resolved, else (a panel's button) the open round with this id."""
        return self._round if self._round is not None else self.cases.open_round(self.round_id)

    async def close(self) -> CloseResult:
        r = self.round
        if not await self.engine.close_round(r.id):
            # Closed meanwhile (by another moderator, the schedule or another process).
            raise EngineError("round_closed")
        return CloseResult(r, self.m("round_closing", code=r.code))

    async def extend(self, duration: str) -> ExtendResult:
        r = self.round
        try:
            delta = parse_duration(duration)
        except ValueError as exc:
            raise EngineError("invalid_duration", error=escape_markdown(str(exc))) from None
        closes = await self.engine.extend_round(r.id, delta)
        log.info("round %s extended by %s", r.id, format_duration(delta))
        text = self.m("round_extended", code=r.code, closes=self.engine.format_time(closes))
        return ExtendResult(r, closes, text)

    async def arguments(self) -> ModerationListResult:
        r = self.round
        rows = await self.engine.argument_rows(r.id)
        return ModerationListResult(
            r,
            tuple(
                ModeratedArgument(
                    a.number,
                    a.text,
                    a.hidden,
                    a.pending,
                    a.carried["round"] if a.carried else None,
                )
                for a in rows
            ),
        )

    async def arguments_page(self, page: int = 1) -> str:
        """The round's arguments with their numbers, hidden ones marked, one page of them."""
        r = self.round
        listed = sorted((await self.arguments()).arguments, key=lambda a: a.number)
        if not listed:
            return self.m("moderation_list_empty", code=r.code)
        pages = (len(listed) + LIST_PAGE - 1) // LIST_PAGE
        page = min(max(page, 1), pages)
        lines = [self.m("moderation_list_title", code=r.code, page=page, pages=pages)]
        for a in listed[(page - 1) * LIST_PAGE : page * LIST_PAGE]:
            mark = " " + self.m("moderation_list_hidden") if a.hidden else ""
            if a.pending and not a.hidden:
                mark = " " + self.m("moderation_list_pending")
            if a.carried_from is not None:
                mark += " " + self.m("moderation_list_carried", code=a.carried_from)
            text = escape_markdown(a.text).replace("\n", " ")
            lines.append(f"• n° {a.number}{mark} — {text}")
        if page < pages:
            lines.append(self.m("moderation_list_more", code=r.code, next=page + 1))
        return "\n".join(lines)

    async def argument(self, number: int) -> ModeratedArgument:
        listed = await self.arguments()
        for found in listed.arguments:
            if found.number == number:
                return found
        raise EngineError("unknown_argument", number=number, code=listed.round.code)

    async def set_hidden(self, number: int | None, hidden: bool) -> HideResult:
        """Hide or restore the argument with this public number (None: none was given)."""
        if number is None:
            raise EngineError("missing_argument_number", action=HIDE_WORDS[hidden])
        await self.engine.set_hidden(self.round_id, number, hidden)
        text = self.m("argument_hidden" if hidden else "argument_restored", number=number)
        return HideResult(self.round_id, number, hidden, text)

    async def approve(self, number: int | None) -> ApproveResult:
        """Put the argument with this public number, held for approval, to the vote."""
        if number is None:
            raise EngineError("missing_argument_number", action="approuver")
        await self.engine.approve(self.round_id, number)
        log.info("an argument of round %s was approved", self.round_id)
        return ApproveResult(self.round_id, number, self.m("argument_approved", number=number))


class DebateModeration:
    """A debate the actor moderates: a round of it can be opened."""

    def __init__(self, cases: ModerationCases, debate_id: str) -> None:
        self.cases = cases
        self.debate_id = debate_id

    async def open(self) -> OpenResult:
        info = await self.cases.engine.open_round(self.debate_id)
        text = self.cases.m("round_opened", code=info.code, question=info.question)
        return OpenResult(info, text)


class ExportTarget:
    """A round with a summary, posted in a channel the actor moderates."""

    def __init__(self, cases: ModerationCases, info: RoundInfo) -> None:
        self.cases = cases
        self.info = info

    async def export(self, fmt: str) -> ExportResult:
        fmt = fmt.lower()
        if fmt not in export_format_names():
            raise EngineError(
                "unknown_format",
                format=escape_markdown(fmt[:20]),
                choices=", ".join(export_format_names()),
            )
        attachment = await self.cases.engine.export(self.info.id, fmt)
        text = self.cases.m("export_ready", code=self.info.code, format=fmt)
        return ExportResult(self.info, fmt, attachment, text)


class ModerationCases(CaseBase):
    """Finds what a moderator command acts on and decides whether the actor may."""

    async def _reach(self, actor: Actor, find: Callable[[], Awaitable[T]]) -> T:
        """The target ``find`` gives; if it cannot be found, the explanation only for those
        who moderate somewhere, the plain refusal for everyone else."""
        try:
            return await find()
        except EngineError:
            if await self.moderates_somewhere(actor):
                raise
            raise EngineError("not_moderator") from None

    @staticmethod
    async def _authorise(actor: Actor, channels: Sequence[ChannelRef]) -> None:
        if not await actor.moderates(channels):
            raise EngineError("not_moderator")

    async def moderated_rounds(self, actor: Actor) -> list[OpenRound]:
        """The open rounds of the actor's platform that the actor moderates."""
        return [
            r for r in self.platform_rounds(actor.platform) if await actor.moderates(r.channels)
        ]

    async def moderated_round(self, actor: Actor, code: str | None) -> RoundModeration:
        """The open round a moderator command means, rights checked.

        Without a code: the round where the command was typed, else the one the actor shares
        with the bot; with ``scope_by_rights``, only among the rounds the actor moderates
        (and, when several are open, only their codes are named).
        """
        wanted = wanted_code(code)

        async def find() -> OpenRound:
            shared: tuple[ChannelRef, ...] = actor.shared_channels
            if actor.scope_by_rights:
                rounds = await self.moderated_rounds(actor)
                if wanted is None and not rounds:
                    raise EngineError("no_open_round")
                shared = tuple(c for r in rounds for c in r.channels)
            return self.engine.resolve_round(
                wanted, actor.channel, shared, platform=actor.platform
            )

        r = await self._reach(actor, find)
        await self._authorise(actor, r.channels)
        return RoundModeration(self, r.id, r)

    async def round_by_id(self, actor: Actor, round_id: int) -> RoundModeration:
        """A round named by id (a panel's button), open or closed: refused for anyone who does
        not moderate its channels (an unknown id has none)."""
        r = self.engine.open_round_by_id(round_id)
        if r is not None:
            channels: tuple[ChannelRef, ...] = r.channels
        else:
            info = await self.engine.round_info(round_id)
            channels = () if info is None else info.channel_refs
        await self._authorise(actor, channels)
        return RoundModeration(self, round_id, None)

    async def debate(self, actor: Actor, debate_id: str) -> DebateModeration:
        wanted = debate_id.strip()

        async def find() -> tuple[ChannelRef, ...]:
            return self.engine.debate_channels(wanted)

        await self._authorise(actor, await self._reach(actor, find))
        return DebateModeration(self, wanted)

    async def export_target(self, actor: Actor, code: str | None) -> ExportTarget:
        """The round to export: the one with ``code``, else the latest summarised round of the
        channel where the command was typed."""
        wanted = wanted_code(code)

        async def find() -> RoundInfo:
            if wanted is not None:
                info = await self.engine.find_round(wanted)
                if info is None:
                    raise EngineError("unknown_round", code=escape_markdown(wanted[:20]))
                return info
            latest = await self.engine.latest_summarised(actor.channel)
            found = None if latest is None else await self.engine.round_info(latest)
            if found is None:
                raise EngineError("no_round_to_export")
            return found

        info = await self._reach(actor, find)
        await self._authorise(actor, info.channel_refs)
        return ExportTarget(self, info)

    # ------------------------------------------------------------------ suggestions

    # Only what the actor may act on: nothing to those without moderator rights.

    async def debate_choices(self, actor: Actor, current: str) -> list[Choice]:
        needle = current.strip().lower()
        return [
            Choice(f"{d.id} — {d.title}", d.id)
            for d in self.engine.config.debates
            if (not needle or needle in d.id or needle in d.title.lower())
            and await actor.moderates(self.engine.debate_channels(d.id))
        ][:CHOICES_MAX]

    async def moderated_round_choices(self, actor: Actor, current: str) -> list[Choice]:
        return self.round_choices(actor, current, await self.moderated_rounds(actor))

    async def export_choices(self, actor: Actor, current: str) -> list[Choice]:
        needle = current.strip().lower()
        rounds = [r for r in await self.engine.list_rounds() if r.state == "summarised"]
        rounds.sort(key=lambda r: r.closes_at, reverse=True)
        return [
            Choice(f"{r.code} — {r.question}", r.code)
            for r in rounds
            if (not needle or needle in r.code.lower() or needle in r.question.lower())
            and await actor.moderates(r.channel_refs)
        ][:CHOICES_MAX]
