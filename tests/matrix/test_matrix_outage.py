"""An outage gets an answer on Matrix, and one stuck member does not stall the others.

Against a real Synapse, the bot on SQLite: writes refused by SQLite (read-only), then the
writer hung as on a paused database server.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import DEBATE, Bots, Users, make_room
from matrix_members import Member, Seen, has
from outage_support import read_only, stuck_writer

pytestmark = pytest.mark.synapse

NOTHING = "rien n'a été enregistré"
UNCONFIRMED = "n'a pas pu être confirmée"


async def ask(member: Member, room_id: str, bot: str, command: str, expect: str) -> Seen:
    mark = len(member.seen)
    await member.send(room_id, command)
    return await member.wait_message(has(expect), room_id, bot, after=mark)


async def test_members_are_answered_during_an_outage(
    users: Users, members: dict[str, Member], bots: Bots
) -> None:
    mod, alice, bob = members["mod"], members["alice"], members["bob"]
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id])
    app = await bots.start(alias)
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    await mod.wait_message(has(info.code), room_id, bot)
    alice_dm = await alice.create_dm(bot, encrypted=True)
    bob_dm = await bob.create_dm(bot, encrypted=False)
    await alice.wait_joined(alice_dm, bot)
    await bob.wait_joined(bob_dm, bot)
    await ask(alice, alice_dm, bot, "!position pour Avant la panne", "Position enregistrée")

    with read_only(app.db):
        answer = await ask(bob, bob_dm, bot, "!position contre", NOTHING)
        assert "Position enregistrée" not in answer.body
        await ask(alice, alice_dm, bot, "!retirer", NOTHING)
        # Typed in the round's room, answered privately (in the moderator's DM).
        mark = len(mod.seen)
        await mod.send(room_id, "!debat fermer")
        answer = await mod.wait_message(has(NOTHING), None, bot, after=mark)
        assert answer.room_id != room_id

    app.engine.budget.write = 3.0
    async with stuck_writer(app.db):
        mark_alice, mark_bob = len(alice.seen), len(bob.seen)
        await alice.send(alice_dm, "!position nuance")
        await asyncio.sleep(0.3)  # alice's command reaches the bot first
        started = time.monotonic()
        await bob.send(bob_dm, "!ma-position")
        await bob.wait_message(has("pas encore donné"), bob_dm, bot, after=mark_bob)
        # Bob's answer did not wait for alice's stuck write (3 s budget).
        assert time.monotonic() - started < 2.5
        assert not [s for s in alice.seen[mark_alice:] if UNCONFIRMED in s.body]
        await alice.wait_message(has(UNCONFIRMED), alice_dm, bot, after=mark_alice)

    # Service resumes by itself; alice's unconfirmed stance was committed once the writer
    # came back, and her acknowledged argument is still there.
    mine = await ask(alice, alice_dm, bot, "!ma-position", "Avant la panne")
    assert "Nuancé" in mine.body
    await ask(bob, bob_dm, bot, "!position contre", "Position enregistrée")
    assert await app.engine.participation(info.id) == 2
