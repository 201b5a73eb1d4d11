"""Answering a member whose message the bot cannot decrypt, in plain text, once an hour.

A member's client may never send the bot a message's key (it was lost, or the client excludes
devices it considers insecure and sends ``m.room_key.withheld`` instead). Saying nothing would
leave the member waiting for an answer that never comes: the bot says what happened and what
to do, unencrypted (the member's client can always read that), in that DM only — in a room with
others the bot cannot tell whether the message was meant for it. At most once per member per
hour, remembered in memory only (no member is written to disk for this).
"""

from __future__ import annotations

import html
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .content import notice_content
from .errors import _safe

if TYPE_CHECKING:
    from .adapter import MatrixAdapter

log = logging.getLogger(__name__)

WITHHELD = "m.room_key.withheld"
ANSWER_EVERY = 3600.0
# Session ids whose keys were withheld: bounded, oldest forgotten first.
WITHHELD_LIMIT = 1_000


class Undecryptable:
    """Withheld keys seen in to-device messages, and the plain answers owed for them."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter
        self.answer_every = ANSWER_EVERY
        self.withheld: OrderedDict[str, str] = OrderedDict()
        self._answered: dict[str, float] = {}

    def note_to_device(self, events: Iterable[Any]) -> None:
        """Remember the sessions whose keys a member's device declined to share."""
        for event in events:
            source = getattr(event, "source", None)
            if not isinstance(source, dict) or source.get("type") != WITHHELD:
                continue
            content = source.get("content") or {}
            session_id = content.get("session_id")
            if isinstance(session_id, str):
                self.withheld[session_id] = str(content.get("code") or "m.unavailable")
                while len(self.withheld) > WITHHELD_LIMIT:
                    self.withheld.popitem(last=False)

    def withheld_code(self, event: Any) -> str | None:
        return self.withheld.get(str(getattr(event, "session_id", "")))

    async def answer(self, room_id: str, event: Any) -> bool:
        """Tell the sender, in plain text, that their message could not be read; False if not."""
        adapter = self.adapter
        sender = str(getattr(event, "sender", ""))
        room = adapter.require_client().rooms.get(room_id)
        if room is None or not sender:
            return False
        channels = await adapter.rooms.round_channels()
        if not adapter.rooms.is_direct_room(room, sender, channels):
            log.info("a message in a room with others could not be decrypted; not answered")
            return False
        now = time.monotonic()
        last = self._answered.get(sender)
        if last is not None and now - last < self.answer_every:
            log.info("a message could not be decrypted; its sender was told less than an hour ago")
            return False
        self._answered = {u: t for u, t in self._answered.items() if now - t < self.answer_every}
        self._answered[sender] = now
        code = self.withheld_code(event)
        await self._send_plain(room_id, self._text(code))
        log.info(
            "a message could not be decrypted (%s); its sender was told in plain text",
            f"key withheld: {_safe(code)}" if code else "no key",
        )
        return True

    def _text(self, code: str | None) -> str:
        m = self.adapter.messages
        reason = m("undecryptable_withheld", code=code) if code else m("undecryptable_no_key")
        return str(m("undecryptable", reason=reason))

    async def _send_plain(self, room_id: str, text: str) -> None:
        """Send ``text`` unencrypted, even in an encrypted room (nio would encrypt it)."""
        client = self.adapter.require_client()
        content = notice_content(text, html.escape(text, quote=False))
        txn = f"debatebot.undecryptable.{secrets.token_hex(8)}"
        path = (
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/"
            f"{quote(txn, safe='')}"
        )
        async with self.adapter.sender.lock(room_id):
            status, answer = await client.raw_json("PUT", path, content)
        if status != 200:
            code = answer.get("errcode") or "no error code"
            log.warning("the plain answer to an undecryptable message failed (%s)", code)
