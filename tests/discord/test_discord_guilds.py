"""Moderator rights come from the guild holding the round's channel, never from another guild.

The bot is in two guilds (the fake's guild A and guild B) with its commands registered
globally, so members of both can run every ``/debat`` command. A round posted in guild A is
moderated by guild A's moderators only: Manage Server, Administrator or a configured moderator
role in guild B gives no right over it, and every such attempt gets the plain ``not_moderator``
answer and changes nothing.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

from discord_support import DEBATE, TOKEN_ENV, Launch, debate, discord_config
from fake_discord import (
    CHANNEL_B_ID,
    CHANNEL_ID,
    GUILD_ID,
    MODERATOR_ROLE_B_ID,
    MODERATOR_ROLE_ID,
    Call,
    FakeDiscord,
    Member,
    Outcome,
)

from bot.app import App
from bot.config import Config

B_DEBATE = "ecran-total"
UNCACHED_CHANNEL_ID = 1300000000000000021  # in guild A, missing from its GUILD_CREATE
UNKNOWN_CHANNEL_ID = 1300000000000000099  # in no guild Discord tells the bot about


def b_debate(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": B_DEBATE,
        "title": "Écran total",
        "pack": "ecran-total",
        "questions": [],
        "channels": [{"platform": "discord", "channel_id": CHANNEL_B_ID}],
    }
    data.update(overrides)
    return debate(**data)


def two_guilds_config(data_dir: Path, *, debates: list[dict[str, Any]] | None = None) -> Config:
    """Global commands (``guild_ids: []``) and a moderator role of each guild configured."""
    return discord_config(
        data_dir,
        platforms={
            "console": {"enabled": False},
            "discord": {
                "enabled": True,
                "token_env": TOKEN_ENV,
                "guild_ids": [],
                "sync_commands_globally": True,
                "moderator_role_ids": [MODERATOR_ROLE_ID, MODERATOR_ROLE_B_ID],
            },
        },
        debates=debates if debates is not None else [debate(), b_debate()],
    )


def sent_files(calls: list[Call]) -> list[str]:
    return [name for call in calls for name, _, _ in call.files]


def assert_refused(app: App, outcome: Outcome) -> None:
    """Exactly what a member without any right is told: one private line, nothing else."""
    assert outcome.ephemeral
    assert outcome.text == app.engine.messages("not_moderator"), outcome.text
    assert not outcome.final.get("embeds") and not outcome.custom_ids
    assert sent_files([outcome.callback, *outcome.edits, *outcome.followups]) == []


async def snapshot(app: App) -> tuple[Any, ...]:
    """Everything a moderator command could change: rounds, close times, hidden flags, the
    arguments awaiting approval."""
    rounds = [(r.id, r.state, r.opens_at, r.closes_at) for r in await app.engine.list_rounds()]
    live = [(r.id, r.closes_at) for r in app.engine.open_rounds()]
    arguments = [await app.engine.list_arguments(r.id) for r in app.engine.open_rounds()]
    pending = [sorted(app.engine.pending_numbers(r.id)) for r in app.engine.open_rounds()]
    return rounds, live, arguments, pending


async def announced(fake: FakeDiscord, code: str, channel_id: int = CHANNEL_ID) -> None:
    await fake.wait_for(
        lambda c: (
            c.method == "POST"
            and c.path == f"/channels/{channel_id}/messages"
            and any(code in str(e.get("title")) for e in (c.body or {}).get("embeds") or [])
        )
    )


async def test_moderators_of_another_guild_cannot_act_on_a_round(
    fake: FakeDiscord,
    launch: Launch,
    tmp_path: Path,
    members: dict[str, Member],
    outsiders: dict[str, Member],
) -> None:
    # Guild A's debate is pre-moderated: its arguments await a moderator's approval.
    config = two_guilds_config(tmp_path / "data", debates=[debate(moderation="pre"), b_debate()])
    app = await launch(config)
    modo = members["modo"]  # guild A, by its moderator role

    # --- opening: the debate's channel is in guild A -------------------------------------------
    for outsider in outsiders.values():
        assert_refused(app, await outsider.slash("ouvrir", **{"debat-id": DEBATE}))
        debates = await outsider.autocomplete("ouvrir", "debat-id", **{"debat-id": ""})
        assert [c["value"] for c in debates] == [B_DEBATE]  # their own guild's debate only
    assert await app.engine.list_rounds() == []
    debates = await modo.autocomplete("ouvrir", "debat-id", **{"debat-id": ""})
    assert [c["value"] for c in debates] == [DEBATE]
    opened = await modo.slash("ouvrir", **{"debat-id": DEBATE})
    (info,) = await app.engine.list_rounds()
    assert f"Tour {info.code} ouvert" in opened.content
    rid, code = info.id, info.code
    await announced(fake, code)
    for n in range(3):
        await app.engine.add_argument(rid, "test", f"participant-{n}", f"Argument {n}")
    number = (await app.engine.list_arguments(rid))[0][0]

    # What guild A's moderator has on screen: the panel, then one argument with its buttons.
    panel = await modo.slash("moderation")
    panel_message = copy.deepcopy(fake.messages[panel.message_id or ""])
    pick = f"debat:mod-pick:{rid}:0"
    picked = await modo.click(panel_message, pick, values=[str(number)])
    argument_message = copy.deepcopy(fake.messages[picked.message_id or ""])
    hide, back = f"debat:mod-hide:{rid}:{number}:1", f"debat:mod-page:{rid}:0"
    assert {hide, back} <= set(picked.custom_ids)

    # --- guild B's moderators try everything on round A --------------------------------------
    before = await snapshot(app)
    start = len(fake.calls)
    for outsider in outsiders.values():
        for command, options in (
            ("fermer", {"tour": code}),
            ("prolonger", {"duree": "1h", "tour": code.lower()}),
            ("moderation", {"tour": code}),
            ("approuver", {"numero": number, "tour": code}),
            ("ouvrir", {"debat-id": DEBATE}),
        ):
            assert_refused(app, await outsider.slash(command, **options))
        # Without a code a command means a round of the caller's guild: there is none open.
        without_code: tuple[tuple[str, dict[str, Any]], ...] = (
            ("fermer", {}),
            ("prolonger", {"duree": "1h"}),
            ("moderation", {}),
            ("approuver", {"numero": number}),
        )
        for command, options in without_code:
            nothing = await outsider.slash(command, **options)
            assert nothing.ephemeral and nothing.text == app.engine.messages("no_open_round")
        assert_refused(app, await outsider.click(panel_message, pick, values=[str(number)]))
        assert_refused(app, await outsider.click(argument_message, hide))
        assert_refused(app, await outsider.click(argument_message, back))
        for command in ("fermer", "prolonger", "moderation"):
            assert await outsider.autocomplete(command, "tour", tour="") == []
    assert await snapshot(app) == before
    assert sent_files(fake.calls[start:]) == []
    assert fake.channel_posts(after=start) == []

    # --- guild A's moderator can do each -----------------------------------------------------
    suggested = await modo.autocomplete("fermer", "tour", tour="")
    assert [c["value"] for c in suggested] == [code]
    (r,) = app.engine.open_rounds()
    closes = r.closes_at
    extended = await modo.slash("prolonger", duree="1h", tour=code)
    assert "prolongé jusqu'au" in extended.content
    assert app.engine.open_rounds()[0].closes_at == closes + timedelta(hours=1)
    assert number in app.engine.pending_numbers(rid)
    approved = await modo.slash("approuver", numero=number, tour=code)
    assert approved.text == app.engine.messages("argument_approved", number=number)
    assert number not in app.engine.pending_numbers(rid)
    hidden = await modo.click(argument_message, hide)
    assert f"Argument n° {number} masqué." in hidden.content
    assert [n for n, _, h in await app.engine.list_arguments(rid) if h] == [number]
    listed = await modo.click(argument_message, back)
    assert f"debat:mod-pick:{rid}:0" in listed.custom_ids
    again = await modo.click(panel_message, pick, values=[str(number)])
    assert f"debat:mod-hide:{rid}:{number}:0" in again.custom_ids  # now offers to restore
    start = len(fake.calls)
    closing = await modo.slash("fermer")
    assert f"Tour {code} fermé" in closing.content
    await fake.wait_for(
        lambda c: (
            c.path == f"/channels/{CHANNEL_ID}/messages"
            and any(f"Synthèse du tour {code}" in str(e.get("title")) for e in c.body["embeds"])
        ),
        after=start,
    )
    await fake.settle()

    # --- the export of the closed round: guild A only ----------------------------------------
    start = len(fake.calls)
    for outsider in outsiders.values():
        assert_refused(app, await outsider.slash("exporter", format="md", tour=code))
        choices = await outsider.autocomplete("exporter", "tour", tour="")
        assert code not in [c["value"] for c in choices]
        # Without a code: the latest closed round of *their* channel; there is none.
        own = await outsider.slash("exporter", format="md")
        assert code not in own.text and not own.edits[-1].files
    assert sent_files(fake.calls[start:]) == []
    choices = await modo.autocomplete("exporter", "tour", tour="")
    assert [c["value"] for c in choices] == [code]
    exported = await modo.slash("exporter", format="md", tour=code)
    ((name, _, _),) = exported.edits[-1].files
    assert name.endswith(f"{code}.md")

    # --- and guild B's moderators do moderate guild B's own debate ---------------------------
    role = outsiders["role"]
    opened_b = await role.slash("ouvrir", **{"debat-id": B_DEBATE})
    (round_b,) = app.engine.open_rounds()
    assert f"Tour {round_b.code} ouvert" in opened_b.content
    await announced(fake, round_b.code, CHANNEL_B_ID)
    assert_refused(app, await modo.slash("fermer", tour=round_b.code))
    # Without a code guild A's moderator means a round of guild A: none is open any more.
    nothing = await modo.slash("fermer")
    assert nothing.text == app.engine.messages("no_open_round")
    assert [r.code for r in app.engine.open_rounds()] == [round_b.code]
    closing_b = await outsiders["manager"].slash("fermer")
    assert f"Tour {round_b.code} fermé" in closing_b.content


async def test_outsiders_learn_nothing_and_get_no_moderator_help(
    fake: FakeDiscord,
    launch: Launch,
    tmp_path: Path,
    members: dict[str, Member],
    outsiders: dict[str, Member],
) -> None:
    # Guild B has the bot but no debate of its own.
    app = await launch(two_guilds_config(tmp_path / "data", debates=[debate()]))
    info = await app.engine.open_round(DEBATE)
    await announced(fake, info.code)
    modo, alice = members["modo"], members["alice"]
    probes: list[tuple[str, dict[str, Any]]] = [
        ("fermer", {"tour": "ZZZZZ"}),
        ("fermer", {"tour": info.code}),
        ("prolonger", {"duree": "1h", "tour": "ZZZZZ"}),
        ("moderation", {"tour": "ZZZZZ"}),
        ("exporter", {"format": "md", "tour": "ZZZZZ"}),
        ("exporter", {"format": "md", "tour": info.code}),
        ("ouvrir", {"debat-id": "inconnu"}),
    ]
    before = await snapshot(app)
    for someone in (*outsiders.values(), alice):
        for command, options in probes:
            assert_refused(app, await someone.slash(command, **options))
        helped = await someone.slash("aide")
        assert "/debat position" in helped.content and "Modération" not in helped.content
        assert await someone.autocomplete("exporter", "tour", tour="") == []
    assert await snapshot(app) == before
    # A moderator of the round's guild is told what is wrong.
    unknown = await modo.slash("fermer", tour="ZZZZZ")
    assert "Aucun tour ouvert ne porte le code ZZZZZ" in unknown.content
    no_debate = await modo.slash("ouvrir", **{"debat-id": "inconnu"})
    assert "inconnu" in no_debate.content and DEBATE in no_debate.content
    assert "Modération" in (await modo.slash("aide")).content


async def test_the_guild_of_a_channel_missing_from_the_cache_is_fetched(
    fake: FakeDiscord,
    launch: Launch,
    tmp_path: Path,
    members: dict[str, Member],
    outsiders: dict[str, Member],
) -> None:
    fake.uncached_channels[UNCACHED_CHANNEL_ID] = (GUILD_ID, "nouveau-salon")
    config = two_guilds_config(
        tmp_path / "data",
        debates=[
            debate(channels=[{"platform": "discord", "channel_id": UNCACHED_CHANNEL_ID}]),
            b_debate(channels=[{"platform": "discord", "channel_id": UNKNOWN_CHANNEL_ID}]),
        ],
    )
    app = await launch(config)
    assert_refused(app, await outsiders["manager"].slash("ouvrir", **{"debat-id": DEBATE}))
    opened = await members["modo"].slash("ouvrir", **{"debat-id": DEBATE})
    assert "ouvert" in opened.content
    assert ("GET", f"/channels/{UNCACHED_CHANNEL_ID}") in [(c.method, c.path) for c in fake.calls]
    # A channel whose guild cannot be determined gives nobody rights over its debate.
    for someone in (members["modo"], outsiders["manager"]):
        assert_refused(app, await someone.slash("ouvrir", **{"debat-id": B_DEBATE}))
    assert [r.debate_id for r in app.engine.open_rounds()] == [DEBATE]
