"""Sending: messages, files, a round's posts (each once), and the announcement's edits."""

from __future__ import annotations

import asyncio
import html
import io
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import nio

from bot.events import Attachment, PostKind, RoundPost
from bot.render import markdown_to_html

from .client import check
from .content import POST_FIELD, _png_size, _txn_id, message_contents
from .errors import MatrixError, _error

if TYPE_CHECKING:
    from .adapter import MatrixAdapter

log = logging.getLogger(__name__)

# How many of the bot's latest events in a room a retried delivery reads to find its own.
RECENT_EVENTS = 100
# Where the bot's link goes in the rendered join line (no Markdown or HTML meaning).
_BOT_MARK = "BOTADDRESSMARK"


class Sender:
    """Everything the bot sends, one room lock around each event."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter
        # One lock per room around each send: nio shares and uses a room's outbound Megolm
        # session across an await, and a round's close discards that session.
        self._send_locks: dict[str, asyncio.Lock] = {}
        self._announcements: dict[tuple[str, int], str] = {}
        self._published: set[tuple[str, int, str, int]] = set()

    def lock(self, room_id: str) -> asyncio.Lock:
        return self._send_locks.setdefault(room_id, asyncio.Lock())

    async def room_send(
        self,
        room_id: str,
        content: dict[str, Any],
        txn_id: str | None = None,
        event_type: str = "m.room.message",
    ) -> str:
        """Send one event; with ``txn_id``, the homeserver sends it once whatever the retries
        (it answers a repeated transaction id of this device with the first event's id)."""
        client = self.adapter.require_client()
        async with self.lock(room_id):
            # Unverified devices get the keys too: see the package docstring and docs/matrix.md.
            response = await check(
                client.room_send(
                    room_id,
                    event_type,
                    content,
                    tx_id=txn_id,
                    ignore_unverified_devices=True,
                ),
                "sending a message",
            )
        return str(response.event_id)

    async def send_text(self, room_id: str, text: str, html: str | None = None) -> list[str]:
        return [await self.room_send(room_id, c) for c in message_contents(text, html)]

    async def react(self, room_id: str, event_id: str, keys: Iterable[str]) -> None:
        """Put these reactions under one of the bot's messages (the vote prompt's answers)."""
        for key in keys:
            relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
            await self.room_send(room_id, {"m.relates_to": relation}, event_type="m.reaction")

    async def _upload(self, attachment: Attachment, encrypt: bool) -> tuple[Any, Any]:
        """Upload a file, waiting out rate limits within ``max_rate_limit_wait``."""
        client = self.adapter.require_client()
        waited = 0.0
        while True:
            response, keys = await client.upload(
                io.BytesIO(attachment.data),
                content_type=attachment.mime,
                filename=attachment.filename,
                encrypt=encrypt,
                filesize=len(attachment.data),
            )
            if isinstance(response, nio.UploadResponse):
                return response, keys
            if getattr(response, "status_code", None) != "M_LIMIT_EXCEEDED":
                raise MatrixError(f"uploading {attachment.filename} failed: {_error(response)}")
            delay = (getattr(response, "retry_after_ms", None) or 1000) / 1000
            if waited + delay > self.adapter.config.max_rate_limit_wait:
                raise MatrixError(f"uploading {attachment.filename}: rate limited too long")
            await asyncio.sleep(delay)
            waited += delay

    async def send_file(
        self,
        room_id: str,
        attachment: Attachment,
        txn_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        room = self.adapter.require_client().rooms.get(room_id)
        encrypt = bool(room is not None and room.encrypted)
        response, keys = await self._upload(attachment, encrypt)
        image = attachment.mime.startswith("image/")
        content: dict[str, Any] = {
            "msgtype": "m.image" if image else "m.file",
            # With a filename beside it, the body is the file's caption: its alt text.
            "body": attachment.description or attachment.filename,
            "filename": attachment.filename,
            "info": {"mimetype": attachment.mime, "size": len(attachment.data)},
            "m.mentions": {},
        }
        if image:
            content["info"].update(_png_size(attachment.data))
        if keys is not None:
            content["file"] = {**keys, "url": response.content_uri}
        else:
            content["url"] = response.content_uri
        content.update(extra or {})
        return await self.room_send(room_id, content, txn_id)

    # ------------------------------------------------------------------ round posts

    async def publish(self, room_id: str, post: RoundPost) -> None:
        """Send a round's post (not a progress edit) into ``room_id``, each part once."""
        text, html_ = self.with_join_line(post)
        parts: list[tuple[str, dict[str, Any] | Attachment]] = [
            ("text", c) for c in message_contents(text, html_)
        ]
        parts.extend(("file", a) for a in post.attachments)
        key = post.key
        # A retried delivery may follow a crash after some parts reached the room: those are
        # found among the bot's latest events and not sent again.
        earlier = await self.posted_before(room_id, post, len(parts)) if key and key.retry else {}
        sent: dict[int, str] = dict(earlier)
        for index, (kind, part) in enumerate(parts):
            mark = (room_id, post.round_id, post.kind.value, index)
            if mark in self._published or index in earlier:
                continue  # delivered before a failure further on; the outbox is retrying
            # One transaction id and one key per event: a split post is several events.
            txn = None if key is None else _txn_id(key.part(index))
            tag = {} if key is None else {POST_FIELD: key.part(index)}
            if kind == "text":
                assert isinstance(part, dict)
                sent[index] = await self.room_send(room_id, {**part, **tag}, txn)
            else:
                assert isinstance(part, Attachment)
                sent[index] = await self.send_file(room_id, part, txn, tag)
            self._published.add(mark)
        for index in range(len(parts)):
            self._published.discard((room_id, post.round_id, post.kind.value, index))
        if post.kind == PostKind.ANNOUNCEMENT and len(parts) == 1 and 0 in sent:
            self._announcements[(room_id, post.round_id)] = sent[0]

    async def posted_before(self, room_id: str, post: RoundPost, count: int) -> dict[int, str]:
        """Which parts of ``post`` are among the bot's latest events in the room (by index).

        Synapse shows the sending device its own transaction id (``unsigned.transaction_id``),
        encrypted or not; an unencrypted event also carries the key in its content.
        """
        key = post.key
        assert key is not None
        by_txn = {_txn_id(key.part(i)): i for i in range(count)}
        by_key = {key.part(i): i for i in range(count)}
        event_filter = {
            "senders": [self.adapter.user_id],
            "types": ["m.room.message", "m.room.encrypted"],
        }
        try:
            body = await self.adapter.require_client().raw_messages(
                room_id, None, event_filter=event_filter, limit=RECENT_EVENTS
            )
        except MatrixError as exc:
            # Cannot look: the transaction ids still make the homeserver refuse a duplicate.
            log.warning("could not read a room to find an earlier post: %s", exc)
            return {}
        found: dict[int, str] = {}
        for event in body.get("chunk") or []:
            if not isinstance(event, dict):
                continue
            unsigned = event.get("unsigned") or {}
            content = event.get("content") or {}
            index = by_txn.get(str(unsigned.get("transaction_id", "")))
            if index is None and isinstance(content, dict):
                index = by_key.get(str(content.get(POST_FIELD, "")))
            if index is not None and isinstance(event.get("event_id"), str):
                found.setdefault(index, event["event_id"])
        return found

    def with_join_line(self, post: RoundPost) -> tuple[str, str]:
        """A post's text and HTML; an announcement also says how to take part: write to the
        bot in private, its Matrix id given as a link (a link, not a mention: no ping)."""
        page = post.html or markdown_to_html(post.text)
        if post.kind != PostKind.ANNOUNCEMENT:
            return post.text, page
        bot = self.adapter.config.user_id
        line = self.adapter.messages("matrix_announcement_join", bot=bot)
        link = f'<a href="https://matrix.to/#/{quote(bot, safe="@:")}">{html.escape(bot)}</a>'
        marked = self.adapter.messages("matrix_announcement_join", bot=_BOT_MARK)
        line_html = markdown_to_html(marked).replace(_BOT_MARK, link)
        return post.text + "\n\n" + line, page + "<br><br>" + line_html

    async def edit_announcement(self, room_id: str, post: RoundPost) -> None:
        original = self._announcements.get((room_id, post.round_id))
        if original is None:
            return
        announcement = await self.adapter.rounds.build_post(post.round_id, PostKind.ANNOUNCEMENT)
        if announcement is None:
            return
        text, html_ = self.with_join_line(announcement)
        contents = message_contents(
            text + "\n\n" + post.text, html_ + "<br><br>" + markdown_to_html(post.text)
        )
        if len(contents) != 1:
            return
        new = contents[0]
        content = {
            **new,
            "body": "* " + new["body"],
            "formatted_body": "* " + new["formatted_body"],
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        }
        await self.room_send(room_id, content)
