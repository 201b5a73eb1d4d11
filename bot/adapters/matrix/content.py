"""Message contents: notices that mention nobody, split under the event size limit."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.render import markdown_to_html, markdown_to_plain
from bot.text import split_text

MAX_EVENT_BYTES = 65_536
# Bytes of body + formatted_body per event. Encryption turns the content into base64
# (4/3 larger) inside a JSON envelope, so the plain budget stays well under half the limit.
CONTENT_BUDGET = 24_000
# Where a round's post carries its key (see bot.events.PostKey): round, kind, outbox row.
POST_FIELD = "org.debatebot.post"
_REPLY_FALLBACK = re.compile(r"^(?:>[^\n]*\n)+\n", re.DOTALL)


def _size(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


def notice_content(plain: str, html: str, msgtype: str = "m.notice") -> dict[str, Any]:
    """One message content: plain and HTML bodies, and no mention of anyone."""
    return {
        "msgtype": msgtype,
        "body": plain,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.mentions": {},
    }


def message_contents(
    text: str, html: str | None = None, budget: int = CONTENT_BUDGET
) -> list[dict[str, Any]]:
    """Contents for ``text`` (light Markdown), split so each event stays under ``budget``.

    ``html`` is used as is when the whole message fits in one event; otherwise each piece is
    rendered from its own Markdown so that no HTML tag is cut in half.
    """
    plain = markdown_to_plain(text)
    whole = notice_content(plain, html if html is not None else markdown_to_html(text))
    if _size(whole) <= budget:
        return [whole]
    limit = max(1, len(text))
    while True:
        limit = max(1, limit // 2)
        pieces = split_text(text, limit)
        contents = [notice_content(markdown_to_plain(p), markdown_to_html(p)) for p in pieces]
        if limit == 1 or all(_size(c) <= budget for c in contents):
            return contents


def _strip_reply_fallback(body: str) -> str:
    """Drop the quoted ``> <@user> …`` block older clients put before a reply."""
    return _REPLY_FALLBACK.sub("", body, count=1)


def _txn_id(part: str) -> str:
    """The transaction id of one event of a round's post: the same on every attempt."""
    return f"debatebot.{part}"


def _png_size(data: bytes) -> dict[str, int]:
    """Width and height of a PNG (from its IHDR chunk), for clients that lay images out."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return {
            "w": int.from_bytes(data[16:20], "big"),
            "h": int.from_bytes(data[20:24], "big"),
        }
    return {}
