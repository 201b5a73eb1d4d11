"""Helpers shared by the Discord tests: the config builder and how to stop an app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from config_support import base_config_data
from fake_discord import CHANNEL_ID, GUILD_ID, MODERATOR_ROLE_ID

from bot.app import App
from bot.config import Config
from bot.i18n import Messages

TOKEN_ENV = "DEBATE_BOT_TEST_DISCORD_TOKEN"
DEBATE = "capitalisme-numerique"
QUESTION = "technologie-pour-qui-1"  # stances: profit, personnes, nuance, abstention
ARGUMENT_MAX = 500


def debate(**overrides: Any) -> dict[str, Any]:
    """The test debate: manual rounds of one question, posted in CHANNEL_ID."""
    data: dict[str, Any] = {
        "id": DEBATE,
        "title": "Le capitalisme numérique",
        "pack": "progressive-alliance-2018",
        "questions": [QUESTION],
        "schedule": {"manual": True},
        "round_duration": "2d",
        "argument_max_chars": ARGUMENT_MAX,
        "channels": [{"platform": "discord", "channel_id": CHANNEL_ID}],
    }
    data.update(overrides)
    return data


def discord_config(data_dir: Path, **overrides: Any) -> Config:
    """Discord only (console off), the test debate, a moderator role."""
    data: dict[str, Any] = {
        **base_config_data(data_dir),
        "platforms": {
            "console": {"enabled": False},
            "discord": {
                "enabled": True,
                "token_env": TOKEN_ENV,
                "guild_ids": [GUILD_ID],
                "moderator_role_ids": [MODERATOR_ROLE_ID],
            },
        },
        "debates": [debate()],
    }
    data.update(overrides)
    return Config.model_validate(data)


Launch = Callable[[Config], Awaitable[App]]
# The catalogue the tests' bots speak (French, the default language).
FR = Messages("fr")


def recorded(app: App, round_id: int, stance: str) -> str:
    """What a member reads once their stance is recorded in this open round."""
    r = app.engine.open_round_by_id(round_id)
    assert r is not None
    label = app.engine.stance_label(r.debate_id, stance)
    return FR("position_recorded", stance=label, code=r.code)


async def stop(app: App) -> None:
    """Stop an app (``App.stop`` delivers the outbox before it stops the adapters)."""
    await app.stop()
