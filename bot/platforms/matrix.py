"""Matrix, through matrix-nio with end-to-end encryption (imported only when enabled)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from bot.platforms.base import ChannelSettings, Platform, PlatformSettings
from bot.settings import env_name

if TYPE_CHECKING:
    from bot.app import Adapter
    from bot.platforms.base import AdapterContext


# A server name: a host name, IPv4 or [IPv6] address, and an optional port (spec's grammar).
_SERVER_NAME = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")


class MatrixConfig(PlatformSettings):
    homeserver: str = "https://matrix.example.org"
    user_id: str = "@debats:example.org"
    access_token_env: str | None = "MATRIX_ACCESS_TOKEN"
    password_env: str | None = "MATRIX_PASSWORD"
    device_name: str = "debate-bot"
    moderator_power_level: int = 50
    allowed_rooms: list[str] = Field(default_factory=list)
    # Bounded retry of rate-limited requests (nio retries forever by default).
    max_rate_limit_wait: float = Field(60.0, gt=0)
    # The device's keys, sessions and sync position; relative to data_dir. Processes that
    # share a database and stand in for each other on Matrix share this directory.
    store_dir: Path | None = None

    _check_env = field_validator("access_token_env", "password_env")(env_name)

    @field_validator("homeserver")
    @classmethod
    def _url(cls, value: str) -> str:
        # A base URL, used as it is, or a server name resolved through .well-known at start.
        if value.startswith(("http://", "https://")):
            return value.rstrip("/")
        if not _SERVER_NAME.match(value):
            raise ValueError(
                "give the homeserver's URL (https://matrix.example.org) or its server name "
                "(example.org, found through /.well-known/matrix/client)"
            )
        return value

    @field_validator("user_id")
    @classmethod
    def _mxid(cls, value: str) -> str:
        if not re.match(r"^@[^:\s]+:\S+$", value):
            raise ValueError("must be a full Matrix user id such as @debats:example.org")
        return value


class MatrixChannel(ChannelSettings):
    platform: Literal["matrix"]
    room_id: str

    @field_validator("room_id")
    @classmethod
    def _room(cls, value: str) -> str:
        # Room ids from room version 12 on carry no server part ("!<opaque hash>").
        if not re.match(r"^(![^:\s]+(:\S+)?|#[^:\s]+:\S+)$", value):
            raise ValueError("must be a room id (!abc:example.org) or alias (#room:example.org)")
        return value

    @property
    def key(self) -> str:
        return self.room_id


def _adapter(context: AdapterContext[MatrixConfig]) -> Adapter:
    from bot.adapters.matrix import MatrixAdapter

    return MatrixAdapter(context)


def _readiness(settings: MatrixConfig, used: set[str], env: Mapping[str, str]) -> list[str]:
    found: list[str] = []
    names = [n for n in (settings.access_token_env, settings.password_env) if n]
    if not any(env.get(name, "").strip() for name in names):
        wanted = " or ".join(names) or "platforms.matrix.access_token_env"
        found.append(f"no credentials: set {wanted} in the environment")
    if "matrix" not in used:
        found.append(
            "no debate posts to Matrix: add {platform: matrix, room_id: …} to a debate's channels"
        )
    return found


PLATFORM = Platform("matrix", MatrixConfig, MatrixChannel, _adapter, _readiness)
