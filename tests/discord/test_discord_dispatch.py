"""A click is dispatched from its custom id alone, once, without discord.py's view rebuild.

discord.py can dispatch ``DynamicItem`` s itself, but for every click it rebuilds the whole view
of the clicked message to find the one item clicked. The cogs' listener answers instead
(``cogs.DebatCog.on_component``); if discord.py registered the component classes again (with
``add_dynamic_items``, or from a view the bot sends), a click would be answered twice.
"""

from __future__ import annotations

import copy
from typing import Any

import discord
import pytest
from discord_support import DEBATE, Launch, recorded
from fake_discord import CHANNEL_ID, FakeDiscord, Member

from bot.adapters.discord import DiscordAdapter
from bot.app import App
from bot.config import Config


def announcement_of(fake: FakeDiscord) -> dict[str, Any]:
    (message,) = [m for m in fake.channel_messages() if m["embeds"] and m["components"]]
    return copy.deepcopy(message)


def callbacks(fake: FakeDiscord, payload: dict[str, Any]) -> int:
    """How many responses the bot gave to one interaction."""
    path = f"/interactions/{payload['id']}/{payload['token']}/callback"
    return sum(1 for c in fake.calls if c.path == path)


def view_store(app: App) -> Any:
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    return adapter.bot._connection._view_store


@pytest.fixture
def rebuilt(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every view discord.py tries to rebuild from a message (it fails, and is noted)."""
    seen: list[str] = []

    def refuse(cls: type[Any], /, *args: Any, **kwargs: Any) -> Any:
        seen.append(cls.__name__)
        raise AssertionError("a view was rebuilt from the clicked message")

    for view in (discord.ui.View, discord.ui.LayoutView):
        monkeypatch.setattr(view, "from_message", classmethod(refuse))
    return seen


async def test_a_stance_click_is_answered_once_without_rebuilding_the_view(
    fake: FakeDiscord,
    launch: Launch,
    config: Config,
    members: dict[str, Member],
    rebuilt: list[str],
) -> None:
    app = await launch(config)
    info = await app.engine.open_round(DEBATE)
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    announcement = announcement_of(fake)
    alice = members["alice"]

    outcome = await alice.click(announcement, f"debat:stance:{info.id}:personnes")
    await fake.settle()
    assert rebuilt == []
    assert recorded(app, info.id, "personnes") in outcome.content
    assert callbacks(fake, fake.interactions[-1]) == 1
    # The answer carried buttons too: discord.py kept none of their classes to dispatch.
    assert outcome.custom_ids
    assert view_store(app)._dynamic_items == {}


async def test_foreign_ids_and_other_component_types_are_left_alone(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    """Another application's custom id, or a select that reports a button's id, gets no
    answer from the bot (as before: discord.py found no such item on the message)."""
    app = await launch(config)
    info = await app.engine.open_round(DEBATE)
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    announcement = announcement_of(fake)
    alice = members["alice"]
    clicks = [
        {"custom_id": "autre:bouton", "component_type": 2},
        {"custom_id": f"debat:stance:{info.id}:personnes", "component_type": 3, "values": []},
    ]
    sent = []
    for data in clicks:
        payload = alice._interaction(3, data, message=announcement)
        sent.append(payload)
        fake.interactions.append(payload)
        await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.settle(0.3)
    assert [callbacks(fake, p) for p in sent] == [0, 0]
    assert await app.engine.participation(info.id) == 0
