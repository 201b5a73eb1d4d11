"""What members and moderators read on Discord, played as they would: help that knows the
round, stances by number, id or label, votes in words, moderators' numbered list."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from discord_support import FR, Launch, debate, discord_config, recorded
from fake_discord import OTHER_CHANNEL_ID, FakeDiscord, Member, find_component
from test_discord_members import announce

from bot.i18n import Messages
from bot.models import table

NUMBERED = "`1` Le profit (`profit`)\n`2` Les personnes (`personnes`)\n`3` Nuancé (`nuance`)"


def other_debate() -> dict[str, object]:
    return debate(
        id="ecran-total",
        title="Écran total",
        pack="ecran-total",
        questions=[],
        channels=[{"platform": "discord", "channel_id": OTHER_CHANNEL_ID}],
    )


async def test_help_lists_the_stances_of_the_round_open_here(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data", debates=[debate(), other_debate()]))
    alice = members["alice"]
    before = await alice.slash("aide")
    # Before a round opens: no stance list at all (it used to show the default set).
    assert before.ephemeral and FR("help_no_round") in before.content
    assert "`pour`" not in before.content and "`1`" not in before.content
    await announce(app, fake)
    await announce(app, fake, "ecran-total")
    (here,) = [r for r in app.engine.open_rounds() if r.debate_id != "ecran-total"]
    (there,) = [r for r in app.engine.open_rounds() if r.debate_id == "ecran-total"]
    helped = await alice.slash("aide")
    assert f"**Tour {here.code}** — La technologie pour qui ?\n{NUMBERED}" in helped.content
    # Only the round of this channel: the other debate's round is not merged into it.
    assert there.code not in helped.content
    assert all(f"(`{s}`)" not in helped.content for s in there.stances if s not in here.stances)


async def test_help_in_english_speaks_english(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data", language="en"))
    await announce(app, fake)
    (r,) = app.engine.open_rounds()
    helped = await members["alice"].slash("aide")
    en = Messages("en")
    assert helped.content.startswith(en("discord_help").split("\n")[0])
    assert f"**Round {r.code}**" in helped.content and "`1` " in helped.content
    assert "Participer" not in helped.content and "Tour " not in helped.content
    moderator = await members["modo"].slash("aide")
    assert en("discord_help_moderator").split("\n")[0] in moderator.content


async def test_a_stance_by_number_id_or_label_and_a_refusal_that_lists_them(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    await announce(app, fake)
    (r,) = app.engine.open_rounds()
    alice, bob, carol = members["alice"], members["bob"], members["carol"]
    by_number = await alice.slash("position", position="2")
    assert by_number.content.startswith(recorded(app, r.id, "personnes"))
    by_label = await bob.slash("position", position="le PROFIT", argument="Un argument à voter")
    assert by_label.content.startswith(recorded(app, r.id, "profit"))
    by_id = await carol.slash("position", position="nuance")
    assert by_id.content.startswith(recorded(app, r.id, "nuance"))
    for typed in ("9", "peut-etre", "Le"):
        refused = await carol.slash("position", position=typed)
        assert refused.ephemeral and NUMBERED in refused.content, typed
    stances = await app.db.read(
        lambda conn: sorted(conn.execute(sa.select(table("position").c.stance)).scalars())
    )
    assert stances == ["nuance", "personnes", "profit"]  # the refusals changed nothing


async def test_vote_buttons_say_their_answer_in_words(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    await announce(app, fake)
    (r,) = app.engine.open_rounds()
    await members["bob"].slash("position", position="profit", argument="Un argument à voter")
    prompt = await members["alice"].slash("voter")
    rows = prompt.final["components"]
    labels = [b["label"] for row in rows for b in row["components"]]
    assert labels == ["D'accord", "Pas d'accord", "Passer"]  # words, never a lone letter
    (number,) = {b["custom_id"].split(":")[3] for row in rows for b in row["components"]}
    button = find_component(rows, f"debat:vote-on:{r.id}:{number}:agree")
    assert button is not None and button["emoji"]["name"] == "👍"
