"""nio's client, with bounded rate-limit waits and a record of what it decrypted."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import nio
import vodozemac

from .errors import MatrixError, _error, _safe

log = logging.getLogger(__name__)

T = TypeVar("T")
# What the DM sweep redacts: members' commands and reactions, the bot's answers (encrypted or not).
REDACTABLE = ("m.room.message", "m.room.encrypted", "m.reaction")


class _Client(nio.AsyncClient):  # type: ignore[misc]
    """nio's client with a bounded answer to rate limiting.

    nio sleeps and retries a 429 forever. Here nio is configured to give up at once
    (``max_limit_exceeded=0``) and this ``send`` retries instead, as long as the total wait
    for one request stays within ``max_rate_limit_wait``. Streaming bodies (uploads) are not
    replayable here; the adapter retries those whole.
    """

    max_rate_limit_wait: float = 60.0
    closed: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Megolm session id -> highest message index this device decrypted in it: where the
        # ratchet goes when a round closes (see bot.adapters.matrix.forgetting). Session ids
        # and counts only, nothing about users, rooms or rounds.
        self.read_indexes: dict[str, int] = {}
        self.read_indexes_changed = False

    def load_store(self) -> None:
        super().load_store()
        olm = self.olm
        if olm is None or getattr(olm, "_reads_tracked", False):
            return
        # nio decrypts in several places (sync responses, /messages, decrypt_event), all
        # through this one method, and none of them says which message index it used: the
        # index is read from the ciphertext's header once decryption has succeeded.
        decrypt = olm.decrypt_megolm_event

        def tracked(event: Any, room_id: str | None = None) -> Any:
            decrypted = decrypt(event, room_id)
            self._note_read(event)
            return decrypted

        olm.decrypt_megolm_event = tracked
        olm._reads_tracked = True

    def _note_read(self, event: Any) -> None:
        index = megolm_index(event.ciphertext)
        if index is None:
            return
        session_id = str(event.session_id)
        if index > self.read_indexes.get(session_id, -1):
            self.read_indexes[session_id] = index
            self.read_indexes_changed = True

    async def close(self) -> None:
        # nio opens a new HTTP session for any request made after close(); refuse instead.
        self.closed = True
        await super().close()

    async def send(
        self,
        method: str,
        path: str,
        data: Any = None,
        headers: dict[str, str] | None = None,
        trace_context: Any = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        if self.closed:
            raise MatrixError("the Matrix client is closed")
        waited = 0.0
        while True:
            response = await super().send(method, path, data, headers, trace_context, timeout)
            if response.status != 429 or not isinstance(data, str | bytes | None):
                return response
            delay = await retry_after(response)
            if waited + delay > self.max_rate_limit_wait:
                log.warning("rate limited for longer than %.0fs; giving up", waited + delay)
                return response
            log.info("rate limited; retrying in %.1fs", delay)
            response.release()
            await asyncio.sleep(delay)
            waited += delay

    async def raw_json(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One authenticated request as the homeserver answered it: status and JSON body.

        The token goes in the header, never in a URL that an exception could print.
        """
        headers = {"Authorization": f"Bearer {self.access_token}"}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":"))
            headers["Content-Type"] = "application/json"
        response = await self.send(method, path, data, headers=headers)
        try:
            status = int(response.status)
            answer = await response.json(content_type=None)
        finally:
            response.release()
        return status, answer if isinstance(answer, dict) else {}

    async def raw_messages(
        self,
        room_id: str,
        start: str | None,
        *,
        event_filter: dict[str, Any] | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of ``/messages``, newest first, as the homeserver sent it.

        Not nio's ``room_messages``: nio would decrypt every event on the way, and the sweep
        only needs ids, types and times. The token goes in the header, never in a URL that an
        exception could print.
        """
        wanted = event_filter if event_filter is not None else {"types": list(REDACTABLE)}
        query: dict[str, Any] = {
            "dir": "b",
            "limit": limit,
            "filter": json.dumps(wanted, separators=(",", ":")),
        }
        if start:
            query["from"] = start
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?{urlencode(query)}"
        response = await self.send(
            "GET", path, headers={"Authorization": f"Bearer {self.access_token}"}
        )
        try:
            if response.status != 200:
                raise MatrixError(f"reading a room's history failed (HTTP {response.status})")
            body = await response.json(content_type=None)
        finally:
            response.release()
        return body if isinstance(body, dict) else {}


async def check(call: Awaitable[T], what: str) -> T:
    """The response of ``call``, or a :class:`MatrixError` naming ``what`` failed."""
    response = await call
    if isinstance(response, nio.ErrorResponse):
        raise MatrixError(f"{what} failed: {_error(response)}")
    return response


def megolm_index(ciphertext: Any) -> int | None:
    """The message index in a Megolm ciphertext's header, or None if it cannot be read."""
    try:
        return int(vodozemac.MegolmMessage.from_base64(ciphertext).message_index())
    except Exception as exc:
        log.debug("a Megolm message header is unreadable: %s", type(exc).__name__)
        return None


async def retry_after(response: Any) -> float:
    """Seconds a 429 response asks to wait (``retry_after_ms``, else ``Retry-After``)."""
    try:
        body = await response.json(content_type=None)
    except Exception as exc:
        log.debug("a 429 response has no JSON body: %s", _safe(exc))
        body = {}
    if isinstance(body, dict) and isinstance(body.get("retry_after_ms"), int | float):
        return max(0.0, float(body["retry_after_ms"]) / 1000)
    header = response.headers.get("Retry-After") if response.headers is not None else None
    if header is not None:
        try:
            return max(0.0, float(header))
        except ValueError:
            log.debug("a 429 response has an unreadable Retry-After header")
    return 1.0
