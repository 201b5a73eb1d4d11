"""Pseudonyms, the server secret, and round salts.

A participant is known to the database only as
``HMAC-SHA256(server_secret, round_salt || platform || 0x00 || user_id)``, truncated to 128 bits
and written in hex. The server secret lives outside the database (an environment variable or a
mode-0600 file in the data directory). The round salt lives in the database while the round is
open and is erased in the transaction that closes it: from then on nobody, the operator
included, can recompute which pseudonym belongs to which account.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from bot.files import private_dir

log = logging.getLogger(__name__)

SECRET_FILE = "server-secret"
SALT_BYTES = 32


class SecretError(Exception):
    """The server secret cannot be read or created safely."""


def load_or_create_secret(location: Path, env_value: str | None) -> bytes:
    """The secret from the environment, else from the file ``location`` (created 0600).

    ``location`` may also be a directory, meaning the file ``server-secret`` in it.
    """
    if env_value:
        if len(env_value) < 16:
            raise SecretError("the server secret must be at least 16 characters long")
        return env_value.encode("utf-8")
    path = location / SECRET_FILE if location.is_dir() else location
    private_dir(path.parent)
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretError(
                f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}"
            )
        value = path.read_bytes().strip()
        if len(value) < 32:
            raise SecretError(f"{path} is too short to be a secret; delete it to regenerate")
        return value
    value = secrets.token_hex(32).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.info("created a new server secret in %s", path)
    return value


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def pseudonym(secret: bytes, salt: bytes, platform: str, user_id: str) -> str:
    """The participant's name in one round. Deterministic while the salt exists."""
    message = salt + platform.encode("utf-8") + b"\x00" + user_id.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def new_round_code() -> str:
    """A short public code for a round, easy to type: four letters and digits."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(5))
