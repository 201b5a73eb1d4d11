"""Moderator commands: who may use them, and what they do."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from discord_support import DEBATE, FR, Launch, debate, discord_config
from fake_discord import CHANNEL_ID, OTHER_CHANNEL_ID, FakeDiscord, Member

from bot.app import App
from bot.config import Config

NOT_MODERATOR = "réservée aux modérateurs"


async def opened(app: App, fake: FakeDiscord) -> int:
    info = await app.engine.open_round(DEBATE)
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    return info.id


@pytest.mark.parametrize("command", ["fermer", "moderation", "exporter", "prolonger", "approuver"])
async def test_members_are_refused_every_moderator_command(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member], command: str
) -> None:
    app = await launch(config)
    round_id = await opened(app, fake)
    every: dict[str, dict[str, Any]] = {
        "exporter": {"format": "md"},
        "prolonger": {"duree": "1h"},
        "approuver": {"numero": 1},
    }
    options = every.get(command, {})
    outcome = await members["alice"].slash(command, **options)
    assert outcome.ephemeral
    assert NOT_MODERATOR in outcome.content
    assert [r.id for r in app.engine.open_rounds()] == [round_id]  # still open, not extended


async def test_manage_server_or_a_moderator_role_is_enough(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    round_id = await opened(app, fake)
    (before,) = app.engine.open_rounds()
    closes = before.closes_at
    extended = await members["gerante"].slash("prolonger", duree="6h")
    assert extended.ephemeral and "prolongé jusqu'au" in extended.content
    assert app.engine.open_rounds()[0].closes_at == closes + timedelta(hours=6)
    invalid = await members["modo"].slash("prolonger", duree="demain")
    assert "Durée invalide" in invalid.content
    closing = await members["modo"].slash("fermer")
    assert "fermé" in closing.content
    assert app.engine.open_rounds() == []
    assert (await app.engine.round_info(round_id)) is not None


async def test_export_before_any_closed_round_is_explained(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    await launch(config)
    outcome = await members["modo"].slash("exporter", format="json")
    assert outcome.ephemeral
    assert "Aucun tour fermé à exporter" in outcome.content
    unknown = await members["modo"].slash("exporter", format="json", tour="ZZZZZ")
    assert "ZZZZZ" in unknown.content


async def test_moderation_panel_pages_through_many_arguments(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    app = await launch(config)
    round_id = await opened(app, fake)
    for n in range(30):  # thirty participants, one argument each
        await app.engine.add_argument(round_id, "test", f"participant-{n}", f"Argument {n}")
    modo = members["modo"]
    first = await modo.slash("moderation")
    picks = [c for c in first.custom_ids if c.startswith("debat:mod-pick:")]
    assert picks == [f"debat:mod-pick:{round_id}:0"]
    (select,) = [
        c
        for row in first.final["components"]
        for c in row["components"]
        if c["custom_id"] == picks[0]
    ]
    assert len(select["options"]) == 25
    assert f"debat:mod-page:{round_id}:1" in first.custom_ids
    second = await modo.click(
        fake.messages[first.message_id or ""], f"debat:mod-page:{round_id}:1"
    )
    assert second.response_type == 6 and second.ephemeral
    (select,) = [
        c
        for row in second.final["components"]
        for c in row["components"]
        if c["custom_id"] == f"debat:mod-pick:{round_id}:1"
    ]
    assert len(select["options"]) == 5
    assert f"debat:mod-page:{round_id}:0" in second.custom_ids


async def test_autocomplete_offers_debates_and_the_round_stances(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    app = await launch(config)
    debates = await members["modo"].autocomplete("ouvrir", "debat-id", **{"debat-id": "cap"})
    assert [c["value"] for c in debates] == [DEBATE]
    assert await members["alice"].autocomplete("position", "position", position="") == []
    round_id = await opened(app, fake)
    stances = await members["alice"].autocomplete("position", "position", position="pro")
    assert stances == [{"name": "Le profit", "value": "profit"}]
    (r,) = app.engine.open_rounds()
    rounds = await members["alice"].autocomplete("voter", "tour", tour="")
    assert [c["value"] for c in rounds] == [r.code]
    assert r.id == round_id


async def test_pre_moderation_and_the_moderation_channel(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    held = debate(
        moderation="pre",
        moderation_batch="1m",
        moderation_channel={"platform": "discord", "channel_id": OTHER_CHANNEL_ID},
    )
    app = await launch(discord_config(tmp_path / "data", debates=[held]))
    round_id = await opened(app, fake)
    alice, bob, modo = members["alice"], members["bob"], members["modo"]
    text = "Un argument à relire avant le vote."
    written = await alice.slash("position", position="profit", argument=text)
    assert written.ephemeral
    (r,) = app.engine.open_rounds()
    [number] = [n for n, t, _ in await app.engine.list_arguments(round_id) if t == text]
    assert FR("argument_pending", number=number) in written.content
    assert FR("vote_none_left") in (await bob.slash("voter")).text

    # The moderation channel gets the batch at the tick: the number and text, no one's name.
    start = len(fake.calls)
    await app.engine.post_moderation_batches()
    await app.publisher.deliver()
    (post,) = fake.channel_posts(OTHER_CHANNEL_ID, after=start)
    body = post.body["content"]
    assert body.splitlines()[0] == FR("moderation_batch_title", code=r.code)
    assert f"n° {number} — {text} " in body
    assert FR("moderation_batch_pending", debat="/debat", number=number) in body
    for member in members.values():
        assert member.name not in body and member.display_name not in body
    assert post.body["allowed_mentions"] == {"parse": []}

    # Only a moderator approves it; then it is put to the vote.
    refused = await bob.slash("approuver", numero=number)
    assert refused.ephemeral and NOT_MODERATOR in refused.content
    assert FR("vote_none_left") in (await bob.slash("voter")).text
    unknown = await modo.slash("approuver", numero=123456)
    assert FR("unknown_argument", number=123456, code=r.code) in unknown.content
    approved = await modo.slash("approuver", numero=number, tour=r.code)
    assert approved.ephemeral
    assert approved.content == FR("argument_approved", number=number)
    again = await modo.slash("approuver", numero=number)
    assert again.content == FR("approve_not_pending", number=number)
    assert f"n° {number}" in (await bob.slash("voter")).text
