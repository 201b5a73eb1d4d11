"""An outage gets an answer on Discord: acknowledged within 3 s, then told what happened.

Through discord.py's own gateway and REST code against the fake Discord: on SQLite refusing
writes, with the writer hung, and on a real PostgreSQL outage. Members and moderators get a
private answer; "nothing was recorded" only when the transaction raised.
"""

from __future__ import annotations

import asyncio
import copy
import time
from pathlib import Path
from typing import Any

import pytest
from discord_support import DEBATE, Launch, discord_config, recorded
from fake_discord import DISCORD_EPOCH_MS, FakeDiscord, Member, Outcome
from outage_support import pg_outage, read_only, stuck_writer

import bot.adapters.discord as discord_adapter
from bot.app import App
from bot.config import Config

NOTHING = "rien n'a été enregistré"
UNCONFIRMED = "n'a pas pu être confirmée"
UNAVAILABLE = "momentanément indisponible"
ACK_DEADLINE = 3.0


async def open_round(fake: FakeDiscord, app: App, modo: Member) -> tuple[int, dict[str, Any]]:
    opened = await modo.slash("ouvrir", **{"debat-id": DEBATE})
    assert "ouvert" in opened.content
    (info,) = await app.engine.list_rounds()
    await app.publisher.deliver()
    (message,) = [m for m in fake.channel_messages() if m["embeds"] and m["components"]]
    return info.id, copy.deepcopy(message)


async def timed(action: Any) -> tuple[Outcome, float]:
    """An interaction's outcome, and how long Discord waited for its acknowledgement."""
    started = time.monotonic()
    outcome: Outcome = await action
    return outcome, outcome.callback.at - started


def private_answer(outcome: Outcome, expected: str, kind: int = 4) -> None:
    """A private answer: members' refusals come at once (4), in the interaction's one
    response; what waits on a slow database or moderators' commands is deferred first (5)."""
    assert outcome.ephemeral
    assert outcome.response_type == kind
    assert expected in outcome.content, outcome.content


async def test_refused_writes_are_answered_privately_and_service_resumes(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    app = await launch(config)
    alice, bob, modo = members["alice"], members["bob"], members["modo"]
    rid, announcement = await open_round(fake, app, modo)
    stance = await bob.click(announcement, f"debat:stance:{rid}:profit")
    assert stance.content.startswith(recorded(app, rid, "profit") + "\n")

    with read_only(app.db):
        for action, kind in (
            (alice.click(announcement, f"debat:stance:{rid}:nuance"), 4),
            (alice.slash("position", position="nuance", argument="Un argument."), 4),
            (bob.slash("retirer"), 4),
            (modo.slash("fermer"), 5),
        ):
            outcome, ack = await timed(action)
            assert ack < ACK_DEADLINE
            private_answer(outcome, NOTHING, kind)

    outcome = await alice.click(announcement, f"debat:stance:{rid}:nuance")
    assert outcome.content.startswith(recorded(app, rid, "nuance") + "\n")
    assert await app.engine.participation(rid) == 2


async def test_a_hung_write_is_acknowledged_then_answered_as_unconfirmed(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    app = await launch(config)
    # Longer than the bot waits before it defers: acknowledged first, answered after.
    app.engine.budget.write = discord_adapter.ANSWER_BUDGET + 0.5
    alice, modo = members["alice"], members["modo"]
    rid, announcement = await open_round(fake, app, modo)
    async with stuck_writer(app.db):
        outcome, ack = await timed(alice.click(announcement, f"debat:stance:{rid}:nuance"))
        assert ack < ACK_DEADLINE
        private_answer(outcome, UNCONFIRMED, kind=5)
        assert ack < discord_adapter.ANSWER_BUDGET + 0.4
        assert NOTHING not in outcome.content
        # Discord members check with the command or the button, not the console's command.
        assert "/debat ma-position" in outcome.content and "!ma-position" not in outcome.content
    # The write was queued, not lost: it commits once the database answers again.
    for _ in range(100):
        if await app.engine.participation(rid) == 1:
            break
        await asyncio.sleep(0.01)
    assert await app.engine.participation(rid) == 1


@pytest.mark.postgres
async def test_postgresql_outage_on_discord(
    fake: FakeDiscord,
    launch: Launch,
    tmp_path: Path,
    pg_url: str,
    members: dict[str, Member],
) -> None:
    app = await launch(discord_config(tmp_path / "data", database_url=pg_url))
    alice, bob, modo = members["alice"], members["bob"], members["modo"]
    rid, announcement = await open_round(fake, app, modo)
    stance = await bob.click(announcement, f"debat:stance:{rid}:profit")
    assert stance.content.startswith(recorded(app, rid, "profit") + "\n")
    with pg_outage(pg_url):
        for action, kind in (
            (alice.click(announcement, f"debat:stance:{rid}:nuance"), 4),
            (bob.slash("retirer"), 4),
            (modo.slash("fermer"), 5),
        ):
            outcome, ack = await timed(action)
            assert ack < ACK_DEADLINE
            private_answer(outcome, NOTHING, kind)
        outcome, ack = await timed(bob.slash("ma-position"))
        assert ack < ACK_DEADLINE
        private_answer(outcome, UNAVAILABLE)
        assert NOTHING not in outcome.content
    outcome = await bob.slash("ma-position")
    assert "Le profit" in outcome.content
    outcome = await alice.click(announcement, f"debat:stance:{rid}:nuance")
    assert outcome.content.startswith(recorded(app, rid, "nuance") + "\n")
    assert await app.engine.participation(rid) == 2


async def test_a_click_that_already_waited_is_acknowledged_at_once(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    """The time a click spent reaching the bot counts against Discord's 3 s: one sent longer
    ago than ``DEFER_BY_AGE`` (by its id's timestamp) is deferred at once, then answered,
    instead of waiting for its write to answer in one response."""
    app = await launch(config)
    rid, announcement = await open_round(fake, app, members["modo"])
    waited = discord_adapter.DEFER_BY_AGE + 0.5
    sent = (int((time.time() - waited) * 1000) - DISCORD_EPOCH_MS) << 22
    real = fake.snowflake
    ids = iter([str(sent)])
    fake.snowflake = lambda: next(ids, None) or real()  # type: ignore[method-assign]
    try:
        outcome = await members["alice"].click(announcement, f"debat:stance:{rid}:nuance")
    finally:
        fake.snowflake = real  # type: ignore[method-assign]
    assert outcome.response_type == 5 and outcome.ephemeral
    assert outcome.content.startswith(recorded(app, rid, "nuance"))
    fresh = await members["bob"].click(announcement, f"debat:stance:{rid}:profit")
    assert fresh.response_type == 4  # a fresh click is still answered in one response
