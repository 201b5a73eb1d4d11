"""Restarts mid-round: of the bot (nothing lost, nothing acted on twice) and of Synapse."""

from __future__ import annotations

import asyncio

import nio
import pytest
from conftest import DEBATE, TOKEN_ENV, Bots, Users, adapter_of, make_room
from matrix_homeserver import Synapse
from matrix_members import Member, Seen, has

from bot.i18n import Messages

pytestmark = pytest.mark.synapse


def count(member: Member, room_id: str, bot: str, text: str) -> int:
    return sum(1 for s in member.messages(room_id, bot) if text in s.body)


async def ask(member: Member, room_id: str, bot: str, command: str, expect: str) -> Seen:
    mark = len(member.seen)
    await member.send(room_id, command)
    return await member.wait_message(has(expect), room_id, bot, after=mark)


async def test_bot_restart_mid_round(users: Users, members: dict[str, Member], bots: Bots) -> None:
    mod, alice, bob = members["mod"], members["alice"], members["bob"]
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id])
    app = await bots.start(alias)
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    await mod.wait_message(has(info.code), room_id, bot)

    alice_dm = await alice.create_dm(bot, encrypted=True)
    await alice.wait_joined(alice_dm, bot)
    adapter = adapter_of(app)
    device = adapter.client.device_id if adapter.client else None
    token_file = adapter.store_dir / "sync_token"
    before = token_file.read_text()
    await ask(alice, alice_dm, bot, "!position pour Premier argument", "Position enregistrée")
    await bots.stop(app)

    # A crash after acting but before the sync token was saved: the next start replays
    # alice's command from the homeserver. It must be recognised and dropped.
    token_file.write_text(before)

    # While the bot is down: bob invites it to a new encrypted DM and writes at once; alice
    # writes three more commands (more than the restarted bot's timeline limit: the gap is
    # fetched with /messages).
    bob_dm = await bob.create_dm(bot, encrypted=True)
    await bob.send(bob_dm, "!position contre Écrit pendant l'absence du bot")
    for command in ("!aide", "!ma-position", "!position nuance"):
        await alice.send(alice_dm, command)

    def small_timeline(made: object) -> None:
        made.timeline_limit = 2  # type: ignore[attr-defined]

    app = await bots.start(alias, adapter=small_timeline)
    adapter = adapter_of(app)
    assert adapter.client is not None and adapter.client.device_id == device, "a new device"

    await bob.wait_message(has("Position enregistrée"), bob_dm, bot)
    await alice.wait_message(has("Nuancé"), alice_dm, bot)
    mine = await ask(alice, alice_dm, bot, "!ma-position", "Nuancé")
    assert "Premier argument" in mine.body, "the position from before the restart is lost"
    assert count(alice, alice_dm, bot, "Position enregistrée : **Pour**") == 0
    assert count(alice, alice_dm, bot, "Position enregistrée") == 2, "a command acted on twice"
    assert count(alice, alice_dm, bot, "Participer au débat") == 1
    assert await app.engine.participation(info.id) == 2

    # A fresh bot (no sync token) does not act on the history it is shown.
    await bots.stop(app)
    app = await bots.start(alias, data="fresh-bot")
    await ask(alice, alice_dm, bot, "!aide", "Participer au débat")
    assert count(alice, alice_dm, bot, "Aucun tour") == 0
    assert count(bob, bob_dm, bot, "Aucun tour") == 0


async def test_synapse_restart_mid_round(
    synapse: Synapse,
    users: Users,
    members: dict[str, Member],
    bots: Bots,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mod, alice, bob, carol = (members[n] for n in ("mod", "alice", "bob", "carol"))
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id, carol.user_id])

    # This bot logs in with an access token made for it (a device of its own).
    login = nio.AsyncClient(synapse.url, bot)
    response = await login.login(users.passwords["bot"], device_name="debate-bot")
    await login.close()
    assert isinstance(response, nio.LoginResponse)
    monkeypatch.setenv(TOKEN_ENV, response.access_token)
    app = await bots.start(alias, access_token_env=TOKEN_ENV, password_env=None)
    adapter = adapter_of(app)
    assert adapter.client is not None and adapter.client.device_id == response.device_id
    assert not (adapter.store_dir / "session.json").exists()
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    await mod.wait_message(has(info.code), room_id, bot)
    alice_dm = await alice.create_dm(bot, encrypted=False)
    await alice.wait_joined(alice_dm, bot)
    await ask(alice, alice_dm, bot, "!position pour Avant le redémarrage", "Position enregistrée")

    await asyncio.to_thread(synapse.restart)

    # Written as soon as the homeserver is back, before the bot has necessarily reconnected.
    bob_dm = await bob.create_dm(bot, encrypted=True)
    await bob.wait_joined(bob_dm, bot)
    await ask(bob, bob_dm, bot, "!position contre Après le redémarrage", "Position enregistrée")
    carol_dm = await carol.create_dm(bot, encrypted=False)
    await carol.wait_joined(carol_dm, bot)
    await ask(carol, carol_dm, bot, "!position nuance Aussi après", "Position enregistrée")
    mine = await ask(alice, alice_dm, bot, "!ma-position", "Pour")
    assert "Avant le redémarrage" in mine.body

    # The round closes while the homeserver is down: the summary waits in the outbox and is
    # posted (text and chart) once the homeserver is back.
    mark = len(mod.seen)
    await asyncio.to_thread(synapse.stop)
    await app.engine.close_round(info.id)
    await asyncio.to_thread(synapse.start)
    await mod.wait_message(has("Synthèse"), room_id, bot, after=mark)
    await mod.wait_message(
        lambda s: s.content.get("msgtype") == "m.image", room_id, bot, after=mark
    )
    assert await app.engine.participation(info.id) == 3


async def test_reaction_under_a_prompt_from_before_a_restart(
    users: Users, members: dict[str, Member], bots: Bots
) -> None:
    """Which argument a prompt showed is kept nowhere across a restart, so a reaction under an
    old prompt records nothing: the member is asked again (or told no vote is awaited)."""
    mod, alice, bob, carol = (members[n] for n in ("mod", "alice", "bob", "carol"))
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id, carol.user_id])
    app = await bots.start(alias)
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    await mod.wait_message(has(info.code), room_id, bot)
    bob_dm = await bob.create_dm(bot, encrypted=True)
    await bob.wait_joined(bob_dm, bot)
    await ask(bob, bob_dm, bot, "!position contre Un argument à voter", "Position enregistrée")
    alice_dm = await alice.create_dm(bot, encrypted=True)
    await alice.wait_joined(alice_dm, bot)
    old_prompt = await ask(alice, alice_dm, bot, "!voter", "Argument n°")
    carol_dm = await carol.create_dm(bot, encrypted=False)
    await carol.wait_joined(carol_dm, bot)
    old_help = await ask(carol, carol_dm, bot, "!aide", "Participer au débat")
    await bots.stop(app)

    app = await bots.start(alias)
    again = Messages("fr")("vote_asked_again")
    mark = len(alice.seen)
    await alice.react(alice_dm, old_prompt.event.event_id, "👍")
    await alice.wait_message(has(again), alice_dm, bot, after=mark)
    # Had the reaction counted, no argument would be left to vote on.
    prompt = await alice.wait_message(has("Argument n°"), alice_dm, bot, after=mark)
    mark = len(alice.seen)
    await alice.react(alice_dm, prompt.event.event_id, "👍")
    await alice.wait_message(has("voté sur tous"), alice_dm, bot, after=mark)

    mark = len(carol.seen)
    await carol.react(carol_dm, old_help.event.event_id, "👍")
    await carol.wait_message(has("Aucun argument en attente"), carol_dm, bot, after=mark)
    assert count(carol, carol_dm, bot, again) == 0
