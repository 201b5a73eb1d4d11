"""Pydantic bases and validators shared by the configuration and each platform's settings."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Settings(BaseModel):
    """A section of ``config.yaml``: unknown keys are errors, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def env_name(value: str | None) -> str | None:
    """A field that names an environment variable (never holds the secret itself)."""
    if value is None:
        return None
    if not _ENV_NAME.match(value):
        raise ValueError(
            "must be the NAME of an environment variable (e.g. DISCORD_TOKEN), "
            "never the secret itself"
        )
    return value
