"""What the bot posts and shows: round posts, a member's own position, times, change lines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import store
from bot.core import Core, OpenRound, RoundInfo, fold
from bot.events import Attachment, PostKind, RoundPost
from bot.participation import MyPosition
from bot.summary.export import render_summary_text
from bot.summary.model import Summary
from bot.text import escape_markdown


class Posts:
    """Renders the posts of a round and the texts shown to members."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def format_time(self, moment: datetime) -> str:
        config = self.core.config
        local = moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(config.tz)
        return local.strftime(self.core.messages("date_format", tz=config.timezone))

    def describe_position(
        self, r: OpenRound, mine: MyPosition, escape: Callable[[str], str] = escape_markdown
    ) -> str:
        """A member's own stance and arguments, as shown to them (member text escaped)."""
        m = self.core.messages
        if mine.stance is None:
            lines = [m("my_position_none", code=r.code)]
        else:
            label = self.core.stance_label(r.debate_id, mine.stance)
            lines = [m("my_position", code=r.code, stance=label)]
        if mine.arguments:
            lines.append(m("my_arguments"))
            waiting = " " + m("my_argument_pending")
            lines.extend(
                f"• {n} — {escape(t)}{waiting if n in mine.pending else ''}"
                for n, t in mine.arguments
            )
        return "\n".join(lines)

    async def build_post(
        self,
        round_id: int,
        kind: PostKind,
        *,
        outbox_id: int | None = None,
        platform: str | None = None,
    ) -> RoundPost | None:
        """A round's post of ``kind``; a moderation post is the batch of outbox row
        ``outbox_id``, its commands as typed on ``platform``."""
        info = await self.core.round_info(round_id)
        if info is None:
            return None
        attachments: tuple[Attachment, ...] = ()
        participation: int | None = None
        if kind == PostKind.MODERATION:
            moderation = await self._moderation_text(info, outbox_id, platform)
            if moderation is None:
                return None
            text = moderation
        elif kind == PostKind.SUMMARY:
            summary = await self.core.summary(round_id)
            if summary is None:
                return None
            text = render_summary_text(summary)
            chart = await asyncio.to_thread(_chart, summary)
            if chart is not None:
                attachments = (chart,)
            participation = int(summary.get("participants", 0))
        else:
            if kind == PostKind.PROGRESS:
                participation = info.participants
            text = self._text(info, kind)
        from bot.render import markdown_to_html

        texts = info.texts
        return RoundPost(
            kind=kind,
            round_id=info.id,
            round_code=info.code,
            debate_id=info.debate_id,
            debate_title=texts.title,
            question=texts.question,
            context=texts.context,
            source=texts.source,
            stances=texts.stances,
            opens_at=info.opens_at,
            closes_at=info.closes_at,
            text=text,
            html=markdown_to_html(text),
            participation=participation,
            attachments=attachments,
            statement_voting=self.core.statement_voting(info.debate_id),
            argument_max_chars=self.core.argument_limit(info.debate_id),
        )

    async def _moderation_text(
        self, info: RoundInfo, outbox_id: int | None, platform: str | None
    ) -> str | None:
        """One batch for the moderation channel: numbers and texts, never who or when.

        None once the batch is gone (its round closed) or every argument in it was withdrawn.
        """
        if outbox_id is None:
            return None
        batch = await self.core.db.read(lambda conn: store.moderation_batch(conn, outbox_id))
        if not batch:
            return None
        m = self.core.messages
        # The words moderators type there: Discord's slash command, the others' text one.
        command = ("/" if platform == "discord" else "!") + m("command_debat")
        lines = [m("moderation_batch_title", code=info.code)]
        for a in batch:
            text = escape_markdown(a.text).replace("\n", " ")
            line = f"n° {a.number} — {text}"
            if a.hidden:
                line += " " + m("moderation_list_hidden")
            elif a.pending:
                line += " " + m("moderation_batch_pending", debat=command, number=a.number)
            lines.append(line)
        lines.append(m("moderation_batch_hide", debat=command, code=info.code))
        return "\n".join(lines)

    def _text(self, info: RoundInfo, kind: PostKind) -> str:
        """The text of a post other than the summary."""
        m = self.core.messages
        texts = info.texts
        closes = self.format_time(info.closes_at)
        if kind == PostKind.ANNOUNCEMENT:
            stances = "\n".join(
                f"`{n}` {label}" if fold(label) == fold(s) else f"`{n}` {label} (`{s}`)"
                for n, (s, label) in enumerate(texts.stances, start=1)
            )
            body = m(
                "announcement_body",
                question=texts.question,
                context=texts.context,
                source=texts.source,
                closes=closes,
                stances=stances,
                code=info.code,
            )
            return m("announcement_title", title=texts.title, code=info.code) + "\n\n" + body
        if kind == PostKind.REMINDER:
            return m("reminder", code=info.code, question=texts.question, closes=closes)
        if kind == PostKind.PROGRESS:
            return m("progress", code=info.code, count=info.participants)
        return m("round_closing", code=info.code)


def describe_changes(differs: dict[str, tuple[Any, Any]]) -> str:
    """``opens 2026-12-07 17:00 -> 2026-12-08 17:00, channels``: what changed, for the log."""
    parts = []
    for key in ("opens_at", "closes_at", "reminder_at"):
        if key in differs:
            old, new = differs[key]
            shown = [
                f"{v:%Y-%m-%d %H:%M}" if isinstance(v, datetime) else "none" for v in (old, new)
            ]
            parts.append(f"{key.removesuffix('_at')} {shown[0]} -> {shown[1]} UTC")
    parts.extend(
        key
        for key in ("channels", "question_id", "title", "question", "context", "source", "stances")
        if key in differs
    )
    return ", ".join(parts)


def _chart(summary: Summary) -> Attachment | None:
    try:
        from bot.summary.charts import render_chart
    except ImportError:  # pragma: no cover - charts are optional at runtime
        return None
    from bot.summary.sections import chart_text
    from bot.summary.view import SummaryView

    data = render_chart(summary)
    if data is None:
        return None
    _, alt = chart_text(SummaryView(summary))
    return Attachment("synthese.png", data, "image/png", description=alt)
