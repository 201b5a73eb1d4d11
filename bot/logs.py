"""Logging that never carries a member's identity, at any level.

Logs are storage too: an operator's log file kept next to the database would link accounts to
answers if it held user ids, DM rooms or message texts. Two layers make sure it does not:

* **Third-party loggers are pinned.** matrix-nio logs each member's account and DM room at
  INFO and whole responses at DEBUG; discord.py's gateway logs whole interaction payloads (user,
  stance, argument, token) at DEBUG; peewee (nio's store) and SQLAlchemy log query parameters.
  Records from any logger outside ``bot``/``cogs`` below WARNING are dropped by the handler's
  filter whatever level a logger is set to (a few named loggers may pass INFO lines that carry
  no payload), so turning ``log_level`` to DEBUG shows more of the bot, never more of a member.
* **Identifiers are scrubbed** from every formatted line (tracebacks included): Matrix user,
  room and event ids, Discord snowflakes, long tokens. Identifiers the operator configured
  (the rooms and channels rounds are posted in) are kept so the log stays useful; see
  :func:`allow`.

Two formats carry the same scrubbed text: ``text`` (one line per record) and ``json`` (one
JSON object per line, for journald or Loki: ``time``, ``level``, ``logger``, ``message`` and,
when there is one, ``exception``). Each field is scrubbed before it is encoded, so what the
text format would hide is hidden in JSON too, and JSON escaping cannot split an identifier in
a way the patterns would miss.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Literal, TextIO

OWN_NAMESPACES = ("bot", "cogs", "__main__")
# Third-party loggers whose INFO lines say what the connection does, never what a member sent.
THIRD_PARTY_INFO = ("alembic.runtime.migration", "discord.client", "discord.gateway")

_PATTERNS = (
    # Matrix user ids (@local:server), room ids (!opaque or !opaque:server), event ids ($…).
    (re.compile(r"@[A-Za-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(?::\d+)?"), "@<user>"),
    (re.compile(r"![A-Za-z0-9._~\-+/=]{8,}(?::[A-Za-z0-9.\-]+(?::\d+)?)?"), "!<room>"),
    (re.compile(r"\$[A-Za-z0-9._~\-+/=]{16,}(?::[A-Za-z0-9.\-]+(?::\d+)?)?"), "$<event>"),
    # Discord snowflakes (users, messages, interactions, channels).
    (re.compile(r"(?<![A-Za-z0-9])\d{15,21}(?![A-Za-z0-9])"), "<id>"),
    # Synapse access and refresh tokens (short for short user names), tokens in URLs.
    (re.compile(r"\bsy[tr]_[A-Za-z0-9_\-.]+"), "<token>"),
    (re.compile(r"(access_token=)[^&\s'\"]+"), r"\1<token>"),
    # Megolm session ids, Curve25519/Ed25519 keys (unpadded base64, 43 characters).
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}(?![A-Za-z0-9+/=])"), "<key>"),
    # Matrix device ids after a user or in "device …" phrases.
    (re.compile(r"(@<user>\s+|device(?: id)?[ :=]+)[A-Z]{6,16}\b"), r"\1<device>"),
    # Interaction tokens, access tokens, bot tokens: any long run of token characters.
    (re.compile(r"[A-Za-z0-9_\-.]{48,}"), "<token>"),
)

_allowed: set[str] = set()
_allowed_lock = threading.Lock()


def allow(identifier: str) -> None:
    """Keep ``identifier`` readable in logs: a room or channel the operator configured.

    Only identifiers of public places belong here (round channels), never a member's DM.
    """
    with _allowed_lock:
        _allowed.add(identifier)


def scrub(text: str) -> str:
    """``text`` with every member identifier replaced by a placeholder."""
    with _allowed_lock:
        allowed = tuple(_allowed)
    placeholders: dict[str, str] = {}
    for index, identifier in enumerate(sorted(allowed, key=len, reverse=True)):
        if identifier in text:
            key = f"\x00{index}\x00"
            placeholders[key] = identifier
            text = text.replace(identifier, key)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for key, identifier in placeholders.items():
        text = text.replace(key, identifier)
    return text


def _own(name: str) -> bool:
    return any(name == ns or name.startswith(ns + ".") for ns in OWN_NAMESPACES)


class ThirdPartyFilter(logging.Filter):
    """Drops third-party records below WARNING (INFO for a few connection loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _own(record.name) or record.levelno >= logging.WARNING:
            return True
        if record.levelno >= logging.INFO:
            return any(
                record.name == n or record.name.startswith(n + ".") for n in THIRD_PARTY_INFO
            )
        return False


class ScrubbingFormatter(logging.Formatter):
    """Formats as usual, then scrubs the whole line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line, every text field scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": scrub(record.name),
            "message": scrub(record.getMessage()),
        }
        details = []
        if record.exc_info and not record.exc_text:
            # Cached on the record as the text formatter does, so both see the same traceback.
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            details.append(record.exc_text)
        if record.stack_info:
            details.append(self.formatStack(record.stack_info))
        if details:
            data["exception"] = scrub("\n".join(details))
        # ensure_ascii=False keeps accented messages readable; newlines inside a traceback
        # are escaped, so a record is always exactly one line.
        return json.dumps(data, ensure_ascii=False)


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]


def setup_logging(
    level: str, stream: TextIO | None = None, fmt: LogFormat = "text"
) -> logging.Handler:
    """Install the one root handler of the process (replacing any earlier one)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_debate_bot", False):
            root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._debate_bot = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else ScrubbingFormatter(FORMAT))
    handler.addFilter(ThirdPartyFilter())
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    # Pinned, so their records are not even built: payload logging costs time as well.
    for name in ("nio", "peewee", "aiohttp", "apscheduler", "sqlalchemy", "asyncio", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("discord", "discord.http", "discord.state", "discord.webhook"):
        logging.getLogger(name).setLevel(logging.INFO)
    return handler
