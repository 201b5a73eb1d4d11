"""The moderation room and pre-moderation, on a real Synapse, as members and moderators see it.

The round room's moderator has a moderation room of its own where the bot posts new arguments
in shuffled batches at its ticks (number and text, never who wrote them). The debate is
pre-moderated: a member hears that their argument awaits review, nobody is asked to vote on
it until the moderator approves it from a DM with the bot. The moderator of another round's
public room gets the non-moderator refusal there, and nothing changes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import DEBATE, Bots, Users, adapter_of, make_room
from matrix_members import Member, Seen

pytestmark = pytest.mark.synapse
OTHER = "ecran"


def debates(round_room: str, moderation_room: str, other_room: str) -> list[dict[str, Any]]:
    base = {"schedule": {"manual": True}, "round_duration": "1h"}
    return [
        {
            **base,
            "id": DEBATE,
            "title": "Plateformes",
            "pack": "progressive-alliance-2018",
            "questions": ["plateformes-1"],
            "channels": [{"platform": "matrix", "room_id": round_room}],
            "moderation": "pre",
            "moderation_batch": "1m",
            "moderation_channel": {"platform": "matrix", "room_id": moderation_room},
        },
        {
            **base,
            "id": OTHER,
            "title": "Écran total",
            "pack": "ecran-total",
            "channels": [{"platform": "matrix", "room_id": other_room}],
        },
    ]


async def command(member: Member, room_id: str, text: str, bot: str, round_room: str) -> Seen:
    """Send ``text`` in ``room_id``; return the bot's first answer outside the round room."""
    mark = len(member.seen)
    await member.send(room_id, text)
    return await member.wait_message(lambda s: s.room_id != round_room, sender=bot, after=mark)


async def test_the_moderation_room_and_approval_from_a_dm(
    users: Users, members: dict[str, Member], bots: Bots
) -> None:
    mod, alice, bob, carol = (members[n] for n in ("mod", "alice", "bob", "carol"))
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id, carol.user_id])
    moderation_id, moderation_alias = await make_room(mod, [bot], name="Modération")
    # Bob's own debate room: he created it, he moderates it (and only it).
    other_id, other_alias = await make_room(bob, [bot, alice.user_id], name="Écran")
    for member in (alice, bob, carol):
        await mod.wait_joined(room_id, member.user_id)
    # allowed_rooms names the round room only: the moderation room is let in as configured.
    app = await bots.start(alias, debates=debates(alias, moderation_alias, other_alias))
    adapter = adapter_of(app)
    assert adapter.client is not None
    await mod.wait_joined(moderation_id, bot)
    await bob.wait_joined(other_id, bot)
    info = await app.engine.open_round(DEBATE)
    code = info.code
    await mod.wait_message(lambda s: code in s.body, room_id, bot)
    other = await app.engine.open_round(OTHER)
    await bob.wait_message(lambda s: other.code in s.body, other_id, bot)

    mark = len(alice.seen)
    await alice.send(room_id, "!debat participer")
    help_ = await alice.wait_message(lambda s: "!ma-position" in s.body, sender=bot, after=mark)
    alice_dm = help_.room_id
    text = "Un argument à relire avant le vote"
    held = await command(alice, alice_dm, f"!position {code} pour {text}", bot, room_id)
    found = re.search(r"n° (\d+)", held.body)
    assert found, held.body
    number = int(found.group(1))
    messages = app.engine.messages
    assert messages("argument_pending", number=number) in held.body
    mine = await command(alice, alice_dm, f"!ma-position {code}", bot, room_id)
    assert messages("my_argument_pending") in mine.body

    # The tick: one batch in the moderation room, with the number and the text only.
    mark = len(mod.seen)
    assert await app.engine.post_moderation_batches(DEBATE) == 1
    batch = await mod.wait_message(lambda s: code in s.body, moderation_id, bot, after=mark)
    assert f"n° {number} — {text} (" in batch.body
    assert f"!debat approuver {number}" in batch.body
    assert alice.user_id not in batch.body and "alice" not in batch.body.lower()

    # Nobody votes on it yet.
    carol_mark = len(carol.seen)
    await carol.send(room_id, "!debat participer")
    carol_help = await carol.wait_message(
        lambda s: "!ma-position" in s.body, sender=bot, after=carol_mark
    )
    carol_dm = carol_help.room_id
    nothing = await command(carol, carol_dm, f"!voter {code}", bot, room_id)
    assert nothing.body == messages("vote_none_left")

    # Bob moderates his own round's room, not this round's: refused there and in his DM.
    refusal = messages("not_moderator")
    answer = await command(bob, other_id, f"!debat approuver {number} {code}", bot, room_id)
    assert answer.body == refusal
    bob_dm = answer.room_id
    answer = await command(bob, bob_dm, f"!debat approuver {number} {code}", bot, room_id)
    assert answer.body == refusal
    answer = await command(alice, alice_dm, f"!debat approuver {number} {code}", bot, room_id)
    assert answer.body == refusal
    assert number in app.engine.pending_numbers(info.id)

    # The round room's moderator lists the round's arguments, then approves from the DM.
    listed = await command(mod, room_id, f"!debat arguments {code}", bot, room_id)
    mod_dm = listed.room_id
    assert f"• n° {number} {messages('moderation_list_pending')} — {text}" in listed.body
    approved = await command(mod, mod_dm, f"!debat approuver {number} {code}", bot, room_id)
    assert approved.body == messages("argument_approved", number=number)
    assert number not in app.engine.pending_numbers(info.id)
    prompt = await command(carol, carol_dm, f"!voter {code}", bot, room_id)
    assert f"n° {number}" in prompt.body and text in prompt.body

    # Nothing was said in the moderation room but the batch.
    said = [s for s in mod.messages(moderation_id, sender=bot)]
    assert len(said) == 1
