"""A whole round on Discord, through discord.py's own gateway and REST code.

A moderator opens the round, the announcement appears with its buttons, members take stances
with the buttons, argue through the modal and the slash command, vote on each other's
arguments, the bot restarts and its buttons keep answering, a moderator hides an argument,
closes the round, the summary is posted with its chart, and a late click is told the round is
closed. Everything a member sees is checked the way their client would show it.
"""

from __future__ import annotations

import copy
import logging
import re
from datetime import UTC
from typing import Any

import pytest
import sqlalchemy as sa
from discord_support import (
    ARGUMENT_MAX,
    DEBATE,
    FR,
    Launch,
    discord_config,
    recorded,
    stop,
)
from fake_discord import CHANNEL_ID, FakeDiscord, Member, Outcome

from bot.adapters.discord import ANNOUNCEMENTS_FILE
from bot.app import App
from bot.config import Config
from bot.engine import RoundInfo
from bot.models import table

PNG = b"\x89PNG\r\n\x1a\n"
NOT_MODERATOR = "réservée aux modérateurs"


def announcement_of(fake: FakeDiscord) -> dict[str, Any]:
    """The announcement as a member's client received it (a copy: later edits do not change
    what was on screen when they clicked)."""
    (message,) = [m for m in fake.channel_messages() if m["embeds"] and m["components"]]
    return copy.deepcopy(message)


def vote_answers(outcome: Outcome) -> dict[str, str]:
    """The agree/disagree/pass custom ids on a vote prompt, by value."""
    return {
        custom_id.rsplit(":", 1)[1]: custom_id
        for custom_id in outcome.custom_ids
        if custom_id.startswith("debat:vote-on:")
    }


async def vote_on_everything(fake: FakeDiscord, member: Member, start: Outcome) -> list[str]:
    """Agree with every argument the member is shown; returns the texts shown."""
    seen = []
    outcome = start
    while vote_answers(outcome):
        assert outcome.ephemeral
        # The buttons name the argument by the public number the prompt shows.
        shown = re.search(r"Argument n° (\d+)", outcome.content)
        assert shown is not None
        assert all(c.split(":")[3] == shown.group(1) for c in vote_answers(outcome).values())
        quoted = [line[2:] for line in outcome.content.splitlines() if line.startswith("> ")]
        seen.append(" ".join(quoted))
        assert outcome.message_id is not None
        outcome = await member.click(
            fake.messages[outcome.message_id], vote_answers(outcome)["agree"]
        )
        assert outcome.response_type == 7  # the private prompt is updated in place, at once
        assert outcome.content.startswith(FR("discord_vote_recorded") + "\n")
    assert FR("vote_none_left") in outcome.content
    return seen


async def test_a_whole_round(
    fake: FakeDiscord,
    launch: Launch,
    config: Config,
    members: dict[str, Member],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.DEBUG, logger="cogs")
    app = await launch(config)
    info, announcement = await opening_is_for_moderators(fake, app, members)
    rid, announcement_id = info.id, announcement["id"]
    number_a, number_b = await stances_and_arguments(app, members, rid, announcement)
    await everyone_votes(fake, app, members, rid, announcement)

    # --- restart: a new process over the same data directory --------------------------------
    # The announcement's id is in the database, for whichever process posts next.
    stored = await app.db.read(
        lambda conn: list(conn.execute(sa.select(table("post_ref").c.ref)).scalars())
    )
    assert announcement_id in stored
    await stop(app)
    assert not (config.data_dir / ANNOUNCEMENTS_FILE).exists()
    app = await launch(discord_config(config.data_dir))
    await after_the_restart(fake, app, members, rid, announcement, number_a)
    await a_moderator_hides(fake, app, members, rid, number_b)
    await closing_and_export(fake, app, members, info, announcement)

    # --- what everyone saw: no pings, ever; no member id stored --------------------------------
    for body in fake.message_bodies():
        assert body.get("allowed_mentions") == {"parse": []}, body
    await stop(app)
    for path in config.data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for member in members.values():
                assert str(member.id).encode() not in content, path
    for member in members.values():
        assert str(member.id) not in caplog.text


async def opening_is_for_moderators(
    fake: FakeDiscord, app: App, members: dict[str, Member]
) -> tuple[RoundInfo, dict[str, Any]]:
    alice, modo = members["alice"], members["modo"]
    # --- opening: moderators only ------------------------------------------------------------
    refused = await alice.slash("ouvrir", **{"debat-id": DEBATE})
    assert refused.ephemeral
    assert NOT_MODERATOR in refused.content
    assert await app.engine.list_rounds() == []

    opened = await modo.slash("ouvrir", **{"debat-id": DEBATE})
    assert opened.response_type == 5 and opened.ephemeral
    (info,) = await app.engine.list_rounds()
    assert f"Tour {info.code} ouvert" in opened.content
    rid = info.id
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    announcement = announcement_of(fake)
    (embed,) = announcement["embeds"]
    assert info.code in embed["title"]
    assert "La technologie pour qui ?" in embed["description"]
    assert "Progressive Alliance" in embed["description"]
    closes = int(info.closes_at.replace(tzinfo=UTC).timestamp())
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert f"<t:{closes}:R>" in fields["Clôture"]
    assert fields["Participations"] == "0"
    buttons = [c for row in announcement["components"] for c in row["components"]]
    assert [b["custom_id"] for b in buttons] == [
        *(f"debat:stance:{rid}:{s}" for s in ("profit", "personnes", "nuance", "abstention")),
        f"debat:argue:{rid}",
        f"debat:vote:{rid}",
        f"debat:mine:{rid}",
    ]
    labels = [b["label"] for b in buttons]
    assert {"Argumenter", "Voter sur les arguments", "Ma position", "Le profit"} <= set(labels)
    return info, announcement


async def stances_and_arguments(
    app: App, members: dict[str, Member], rid: int, announcement: dict[str, Any]
) -> tuple[int, int]:
    """Stances by the buttons, then one argument by the modal and one by the command."""
    alice, bob, carol, dave = (members[n] for n in ("alice", "bob", "carol", "dave"))
    # --- stances with the buttons ----------------------------------------------------------
    for member, stance in (
        (alice, "profit"),
        (bob, "nuance"),
        (carol, "personnes"),
        (dave, "personnes"),
    ):
        outcome = await member.click(announcement, f"debat:stance:{rid}:{stance}")
        assert outcome.response_type == 4 and outcome.ephemeral  # answered at once: one call
        assert not outcome.edits and not outcome.followups
        assert outcome.content.startswith(recorded(app, rid, stance))
        assert f"debat:argue:{rid}" in outcome.custom_ids
    changed = await bob.click(announcement, f"debat:stance:{rid}:personnes")
    assert "**Les personnes**" in changed.content

    # --- an argument through the modal -----------------------------------------------------
    opened_modal = await alice.click(announcement, f"debat:argue:{rid}")
    assert opened_modal.response_type == 9
    modal = opened_modal.modal
    assert modal["custom_id"] == f"debat:argue-modal:{rid}"
    (label,) = modal["components"]
    assert label["type"] == 18 and label["component"]["max_length"] == ARGUMENT_MAX
    too_long = await alice.submit(modal, {"argument": "mot " * 200}, message=announcement)
    assert too_long.ephemeral and "le maximum est 500" in too_long.content
    hostile = (
        "Les **données** sont à @everyone, pas à <@123456789012345678> ni à <@&42424242424242424>"
    )
    argued = await alice.submit(modal, {"argument": hostile}, message=announcement)
    assert argued.ephemeral
    number_a = int(re.search(r"Argument n° (\d+) enregistré", argued.content).group(1))  # type: ignore[union-attr]

    # --- and one through /debat position ----------------------------------------------------
    by_command = await bob.slash(
        "position",
        position="personnes",
        argument="Les coopératives de plateforme partagent la valeur.",
    )
    assert by_command.ephemeral
    assert by_command.content.startswith(recorded(app, rid, "personnes") + "\n")
    number_b = int(re.search(r"Argument n° (\d+) enregistré", by_command.content).group(1))  # type: ignore[union-attr]
    return number_a, number_b


async def everyone_votes(
    fake: FakeDiscord, app: App, members: dict[str, Member], rid: int, announcement: dict[str, Any]
) -> None:
    alice, bob, carol, dave = (members[n] for n in ("alice", "bob", "carol", "dave"))
    # --- voting: each argument is shown privately, escaped, once ----------------------------
    seen_by = {}
    for member in (carol, dave):
        start = await member.click(announcement, f"debat:vote:{rid}")
        assert start.response_type == 4 and start.ephemeral
        seen_by[member.name] = await vote_on_everything(fake, member, start)
    assert len(seen_by["carol"]) == 2
    shown = " ".join(seen_by["carol"])
    assert "\\*\\*données\\*\\*" in shown  # Markdown shown as typed
    assert "@everyone" not in shown and "<@123456789012345678>" not in shown
    assert "coopératives" in shown
    # Authors vote on each other's argument (never their own).
    assert len(await vote_on_everything(fake, alice, await alice.slash("voter"))) == 1
    assert (
        len(
            await vote_on_everything(fake, bob, await bob.click(announcement, f"debat:vote:{rid}"))
        )
        == 1
    )

    # --- the participation count is refreshed by the core's minute tick, not per click ----------
    announcement_id = announcement["id"]
    edits_before = [
        c for c in fake.calls if c.method == "PATCH" and c.path.endswith(announcement_id)
    ]
    assert edits_before == []
    await app.engine.post_progress()
    await fake.wait_for(lambda c: c.method == "PATCH" and c.path.endswith(announcement_id))
    assert fields_of(fake.messages[announcement_id])["Participations"] == "4"


async def after_the_restart(
    fake: FakeDiscord,
    app: App,
    members: dict[str, Member],
    rid: int,
    announcement: dict[str, Any],
    number_a: int,
) -> None:
    """The buttons of the announcement still work, and the count is edited in, not reposted."""
    alice, dave, gerante = members["alice"], members["dave"], members["gerante"]
    announcement_id = announcement["id"]
    mine = await dave.click(announcement, f"debat:mine:{rid}")
    assert mine.ephemeral
    assert "votre position : **Les personnes**" in mine.content
    mine_a = await alice.click(announcement, f"debat:mine:{rid}")
    assert f"{number_a} — " in mine_a.content and "\\*\\*données\\*\\*" in mine_a.content
    late_joiner = await gerante.click(announcement, f"debat:stance:{rid}:abstention")
    assert late_joiner.content.startswith(recorded(app, rid, "abstention"))
    posts_before = len(fake.channel_posts())
    await app.engine.post_progress()
    await fake.wait_for(
        lambda c: (
            c.method == "PATCH"
            and c.path.endswith(announcement_id)
            and fields_of(c.body)["Participations"] == "5"
        )
    )
    assert len(fake.channel_posts()) == posts_before  # edited, not reposted


async def a_moderator_hides(
    fake: FakeDiscord, app: App, members: dict[str, Member], rid: int, number_b: int
) -> None:
    carol, modo = members["carol"], members["modo"]
    # --- a moderator hides an argument -------------------------------------------------------
    panel = await modo.slash("moderation")
    assert panel.ephemeral
    assert f"debat:mod-pick:{rid}:0" in panel.custom_ids
    assert str(number_b) in panel.text and "coopératives" in panel.text
    panel_message = fake.messages[panel.message_id or ""]
    intruder = await carol.click(panel_message, f"debat:mod-pick:{rid}:0", values=[str(number_b)])
    assert intruder.ephemeral and NOT_MODERATOR in intruder.content
    picked = await modo.click(panel_message, f"debat:mod-pick:{rid}:0", values=[str(number_b)])
    hide_id = f"debat:mod-hide:{rid}:{number_b}:1"
    assert hide_id in picked.custom_ids
    hidden = await modo.click(fake.messages[picked.message_id or ""], hide_id)
    assert f"Argument n° {number_b} masqué." in hidden.content
    assert (number_b, "Les coopératives de plateforme partagent la valeur.", True) in (
        await app.engine.list_arguments(rid)
    )


async def closing_and_export(
    fake: FakeDiscord,
    app: App,
    members: dict[str, Member],
    info: RoundInfo,
    announcement: dict[str, Any],
) -> None:
    alice, modo = members["alice"], members["modo"]
    rid, announcement_id = info.id, announcement["id"]
    # --- close: the summary with its chart, the buttons taken off ---------------------------
    before_close = len(fake.calls)
    closing = await modo.slash("fermer")
    assert closing.ephemeral and f"Tour {info.code} fermé" in closing.content
    summary_call = await fake.wait_for(
        lambda c: c.path == f"/channels/{CHANNEL_ID}/messages" and bool(c.files),
        after=before_close,
    )
    ((filename, data, _),) = summary_call.files
    assert filename == "synthese.png" and data.startswith(PNG)
    # The chart carries its alt text, for members who cannot see it.
    (described,) = summary_call.body["attachments"]
    assert described["filename"] == "synthese.png"
    assert described["description"].startswith(f"Graphique du tour {info.code} (")
    assert "positions : Le profit : " in described["description"]
    summary_embeds = summary_call.body["embeds"]
    assert summary_embeds[0]["image"]["url"] == "attachment://synthese.png"
    summary_text = "\n".join(
        str(e.get("title", "")) + "\n" + e["description"] for e in summary_embeds
    )
    assert f"Synthèse du tour {info.code}" in summary_text
    assert "Les personnes : 3" in summary_text  # the tally
    assert "\\*\\*données\\*\\*" in summary_text  # the visible argument, escaped
    assert "coopératives" not in summary_text  # the hidden one is gone
    await fake.wait_for(
        lambda c: (
            c.method == "PATCH"
            and c.path.endswith(announcement_id)
            and c.body.get("components") == []
        ),
        after=before_close,
    )
    closed = announcement_of_closed(fake, announcement_id)
    assert "Tour fermé" in closed["embeds"][0]["description"]

    late = await alice.click(announcement, f"debat:stance:{rid}:nuance")
    assert late.ephemeral
    assert "Ce tour est fermé" in late.content

    # --- export, privately -------------------------------------------------------------------
    exported = await modo.slash("exporter", format="csv")
    assert exported.ephemeral
    ((csv_name, csv_data, _),) = exported.edits[-1].files
    assert csv_name.endswith(f"{info.code}.csv")
    assert "données" in csv_data.decode()


def fields_of(message: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


def announcement_of_closed(fake: FakeDiscord, message_id: str) -> dict[str, Any]:
    message = fake.messages[message_id]
    assert message["components"] == []
    return message


async def test_buttons_of_a_closed_round_answer_after_a_restart(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    app: App = await launch(config)
    modo, alice = members["modo"], members["alice"]
    await modo.slash("ouvrir", **{"debat-id": DEBATE})
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    announcement = announcement_of(fake)
    (info,) = await app.engine.list_rounds()
    await modo.slash("fermer")
    await stop(app)
    await launch(discord_config(config.data_dir))
    for custom_id in (
        f"debat:stance:{info.id}:profit",
        f"debat:vote:{info.id}",
        f"debat:mine:{info.id}",
    ):
        outcome = await alice.click(announcement, custom_id)
        assert outcome.ephemeral
        assert "Ce tour est fermé" in outcome.content
    argue = await alice.click(announcement, f"debat:argue:{info.id}")
    assert argue.response_type == 4 and argue.ephemeral  # no modal for a closed round
    assert "Ce tour est fermé" in argue.content
