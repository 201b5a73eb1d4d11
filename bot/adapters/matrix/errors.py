"""What the adapter logs about failures: errors named by request, texts scrubbed."""

from __future__ import annotations

import re
import traceback
from typing import Any

from bot.logs import scrub


class MatrixError(RuntimeError):
    """A Matrix request failed (the message names the request, never a user)."""


_QUERY_TOKEN = re.compile(r"access_token=[^&\s'\"]+")


def _safe(text: object) -> str:
    """``text`` fit for a log line: identifiers scrubbed, no access token.

    Error texts from the homeserver or aiohttp may name users, rooms or events ("User @… not in
    room !…") or carry a URL with its ``access_token`` query: both are removed here, so the
    adapter's own lines stay clean whatever handler the process installed.
    """
    return scrub(_QUERY_TOKEN.sub("access_token=<token>", str(text)))


def _error(response: Any) -> str:
    """A nio error response as log text: its code and its (scrubbed) message."""
    code = getattr(response, "status_code", None) or type(response).__name__
    message = getattr(response, "message", None)
    return _safe(f"{code}: {message}" if message else code)


def _trace(exc: BaseException) -> str:
    """A scrubbed traceback: exception messages can carry room or user ids."""
    return _safe("".join(traceback.format_exception(exc)).rstrip())
