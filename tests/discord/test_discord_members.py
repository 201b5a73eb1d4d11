"""Member commands and buttons beyond the happy path of a round."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from discord_support import DEBATE, Launch, debate, discord_config, recorded
from fake_discord import CHANNEL_ID, OTHER_CHANNEL_ID, FakeDiscord, Member

from bot.app import App
from bot.models import table


async def announce(app: App, fake: FakeDiscord, debate_id: str = DEBATE) -> dict[str, Any]:
    info = await app.engine.open_round(debate_id)
    await fake.wait_for(
        lambda c: (
            c.method == "POST"
            and c.path.endswith("/messages")
            and "embeds" in c.body
            and any(info.code in str(e.get("title")) for e in c.body["embeds"])
        )
    )
    (message,) = [
        m for m in fake.messages.values() if m["embeds"] and info.code in m["embeds"][0]["title"]
    ]
    return copy.deepcopy(message)


async def test_withdrawing_from_my_position(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    announcement = await announce(app, fake)
    (r,) = app.engine.open_rounds()
    alice = members["alice"]
    nothing = await alice.slash("retirer")
    assert nothing.ephemeral and "Vous n'avez rien donné" in nothing.content
    await alice.click(announcement, f"debat:stance:{r.id}:nuance")
    mine = await alice.click(announcement, f"debat:mine:{r.id}")
    assert "**Nuancé**" in mine.content
    withdraw = f"debat:withdraw:{r.id}"
    assert withdraw in mine.custom_ids
    assert f"debat:stance:{r.id}:nuance" not in mine.custom_ids  # offers the other stances
    confirm = await alice.click(fake.messages[mine.message_id or ""], withdraw)
    assert confirm.response_type == 4 and confirm.ephemeral
    assert "C'est définitif" in confirm.content
    done = await alice.click(
        fake.messages[confirm.message_id or ""], f"debat:withdraw-confirm:{r.id}"
    )
    assert done.response_type == 7 and done.ephemeral
    assert "sont retirés" in done.content
    again = await alice.slash("ma-position")
    assert "pas encore donné de position" in again.content
    assert await app.engine.participation(r.id) == 0


async def test_rounds_and_ambiguity_between_two_open_rounds(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    second = debate(
        id="ecran-total",
        title="Écran total",
        pack="ecran-total",
        questions=[],
        channels=[{"platform": "discord", "channel_id": OTHER_CHANNEL_ID}],
    )
    app = await launch(discord_config(tmp_path / "data", debates=[debate(), second]))
    alice = members["alice"]
    empty = await alice.slash("rounds")
    assert "Aucun tour de débat n'est ouvert" in empty.content
    await announce(app, fake)
    await announce(app, fake, "ecran-total")
    listing = await alice.slash("rounds")
    codes = sorted(r.code for r in app.engine.open_rounds())
    assert all(code in listing.content for code in codes)
    assert f"<#{CHANNEL_ID}>" in listing.content and f"<#{OTHER_CHANNEL_ID}>" in listing.content
    # In the first debate's channel the command means that debate's round...
    here = await alice.slash("position", position="profit")
    (first,) = [r for r in app.engine.open_rounds() if r.debate_id == DEBATE]
    assert here.content.startswith(recorded(app, first.id, "profit") + "\n")
    # ...and with a round code, any open round.
    (other,) = [r for r in app.engine.open_rounds() if r.debate_id == "ecran-total"]
    stance = other.stances[0]
    there = await alice.slash("position", position=stance, tour=other.code.lower())
    assert f"(tour {other.code})" in there.content
    suggested = await alice.autocomplete("position", "position", position="", tour=other.code)
    assert [c["value"] for c in suggested] == list(other.stances)
    unknown = await alice.slash("position", position="profit", tour="QQQQQ")
    assert "Aucun tour ouvert ne porte le code QQQQQ" in unknown.content


async def test_refusals_come_from_the_engine_catalogue(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    config = discord_config(
        tmp_path / "data", limits={"actions_per_minute": 2, "arguments_per_participant": 3}
    )
    app = await launch(config)
    nothing = await members["bob"].slash("voter")
    assert "Aucun tour de débat n'est ouvert" in nothing.content
    announcement = await announce(app, fake)
    (r,) = app.engine.open_rounds()
    bob = members["bob"]
    unknown = await bob.slash("position", position="peut-etre")
    assert "Position inconnue" in unknown.content and "`profit`" in unknown.content
    none_left = await bob.click(announcement, f"debat:vote:{r.id}")
    assert "Vous avez voté sur tous les arguments disponibles" in none_left.content
    clicked = await bob.click(announcement, f"debat:stance:{r.id}:profit")
    assert clicked.content.startswith(recorded(app, r.id, "profit") + "\n")
    limited = await bob.click(announcement, f"debat:stance:{r.id}:nuance")
    assert limited.ephemeral and "Trop de demandes" in limited.content
    stances = await app.db.read(
        lambda conn: list(conn.execute(sa.select(table("position").c.stance)).scalars())
    )
    assert stances == ["profit"]  # the refused click changed nothing
