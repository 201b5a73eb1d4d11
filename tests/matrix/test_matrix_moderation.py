"""Moderator rights come from the round's own room, on a real Synapse.

Being all-powerful somewhere else gives nothing: an outsider who created a room of their own
(room version 12, unlimited power) and invited the bot, or a member whose DM with the bot
gained a third member (power 100 there), gets the non-moderator refusal for every moderator
command naming the official round, and nothing changes. The round room's moderator can act
from that room and from a DM with the bot. Private answers never land in the room that gained
a member.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import pytest
from conftest import DEBATE, Bots, Users, adapter_of, make_room
from matrix_members import Member, Seen

from bot.app import App

pytestmark = pytest.mark.synapse


async def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def command(member: Member, room_id: str, text: str, bot: str, round_room: str) -> Seen:
    """Send ``text`` in ``room_id``; return the bot's first answer outside the round room."""
    mark = len(member.seen)
    await member.send(room_id, text)
    return await member.wait_message(lambda s: s.room_id != round_room, sender=bot, after=mark)


def argument_hidden(app: App, round_id: int, number: int) -> bool:
    [r] = [r for r in app.engine.open_rounds() if r.id == round_id]
    [hidden] = [h for n, _author, h in r.arguments.values() if n == number]
    return hidden


def files_from_bot(members: dict[str, Member], bot: str) -> list[Seen]:
    return [
        s
        for m in members.values()
        for s in m.messages(sender=bot)
        if s.content.get("msgtype") == "m.file"
    ]


async def test_moderation_is_decided_in_the_rounds_room(
    users: Users, members: dict[str, Member], bots: Bots
) -> None:
    mod, alice, bob, carol = (members[n] for n in ("mod", "alice", "bob", "carol"))
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id, carol.user_id])
    for member in (alice, bob, carol):
        await mod.wait_joined(room_id, member.user_id)
    # ":localhost" lets the outsider's own room in: the bot must be able to hear them there.
    app = await bots.start(alias, allowed_rooms=[alias, ":localhost"])
    adapter = adapter_of(app)
    assert adapter.client is not None
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    code = info.code
    await mod.wait_message(lambda s: code in s.body, room_id, bot)

    # Alice's DM is opened by the bot. As the invitee of a trusted private chat in room
    # version 12 she is one of its creators: unlimited power, more than 100.
    mark = len(alice.seen)
    await alice.send(room_id, "!debat participer")
    help_ = await alice.wait_message(lambda s: "!ma-position" in s.body, sender=bot, after=mark)
    alice_dm = help_.room_id
    create = await alice.client.room_get_state_event(alice_dm, "m.room.create")
    assert create.content["additional_creators"] == [alice.user_id]
    assert await adapter.is_moderator(adapter.client.rooms[alice_dm], alice.user_id)
    recorded = await command(alice, alice_dm, "!position pour Un argument à masquer", bot, room_id)
    found = re.search(r"Argument n° (\d+)", recorded.body)
    assert found, recorded.body
    number = int(found.group(1))

    # What a plain member is told when they try.
    refusal = (await command(bob, room_id, f"!debat fermer {code}", bot, room_id)).body
    assert refusal == app.engine.messages("not_moderator")

    # The outsider's own room: carol created it (unlimited power in room version 12).
    created = await carol.client.room_create(name="Chez Carol", invite=[bot, bob.user_id])
    outsider_room = str(created.room_id)
    await carol.wait_joined(outsider_room, bot)
    await carol.wait_joined(outsider_room, bob.user_id)
    # Bob gets power 100 there: an admin of that room by its power levels.
    levels = await carol.client.room_get_state_event(outsider_room, "m.room.power_levels")
    await carol.client.room_put_state(
        outsider_room,
        "m.room.power_levels",
        {**levels.content, "users": {**levels.content.get("users", {}), bob.user_id: 100}},
    )
    await until(
        lambda: (
            len(adapter.client.rooms[outsider_room].users) == 3  # type: ignore[union-attr]
            and adapter.client.rooms[outsider_room].power_levels.get_user_level(bob.user_id)  # type: ignore[union-attr]
            == 100
        ),
        "the bot to see bob as an admin of the outsider's room",
    )
    outsider = adapter.client.rooms[outsider_room]
    assert await adapter.is_moderator(outsider, carol.user_id)
    assert await adapter.is_moderator(outsider, bob.user_id)

    # Alice's DM gains a member.
    await alice.client.room_invite(alice_dm, carol.user_id)
    await alice.wait_joined(alice_dm, carol.user_id)
    await until(
        lambda: carol.user_id in adapter.client.rooms[alice_dm].users,  # type: ignore[union-attr]
        "the bot to see carol in alice's former DM",
    )
    alice_mark = len(alice.seen)

    places = [(carol, outsider_room), (bob, outsider_room), (alice, alice_dm)]
    closes = (await app.engine.round_info(info.id)).closes_at  # type: ignore[union-attr]

    async def refused_everywhere(text: str) -> None:
        for member, place in places:
            answer = await command(member, place, text, bot, room_id)
            assert answer.body == refusal, (text, answer.body)
            # Private answers only in a room of the bot and that member alone.
            room = member.client.rooms[answer.room_id]
            assert set(room.users) == {member.user_id, bot}, text

    await refused_everywhere(f"!debat fermer {code}")
    await refused_everywhere(f"!debat prolonger 1h {code}")
    await refused_everywhere(f"!debat masquer {number} {code}")
    await refused_everywhere(f"!debat approuver {number} {code}")
    assert not argument_hidden(app, info.id, number)
    assert [r.id for r in app.engine.open_rounds()] == [info.id]
    round_now = await app.engine.round_info(info.id)
    assert round_now is not None and round_now.closes_at == closes

    # The round room's moderator hides it from the round room...
    answer = await command(mod, room_id, f"!debat masquer {number} {code}", bot, room_id)
    assert answer.body == f"Argument n° {number} masqué."
    assert argument_hidden(app, info.id, number)
    mod_dm = answer.room_id
    await refused_everywhere(f"!debat restaurer {number} {code}")
    assert argument_hidden(app, info.id, number)

    # ... and acts from a DM with the bot: rights come from the round's room.
    answer = await command(mod, mod_dm, f"!debat restaurer {number} {code}", bot, room_id)
    assert answer.body == f"Argument n° {number} rétabli."
    assert not argument_hidden(app, info.id, number)
    # The round's arguments with the numbers hide and restore take, listed in the DM.
    answer = await command(mod, mod_dm, f"!debat arguments {code}", bot, room_id)
    messages = app.engine.messages
    assert answer.body.splitlines()[0] == messages(
        "moderation_list_title", code=code, page=1, pages=1
    )
    assert answer.body.splitlines()[1].startswith(f"• n° {number} — ")
    await refused_everywhere(f"!debat arguments {code}")
    answer = await command(mod, mod_dm, f"!debat prolonger 1h {code}", bot, room_id)
    assert "prolongé" in answer.body
    round_now = await app.engine.round_info(info.id)
    assert round_now is not None and (round_now.closes_at - closes).total_seconds() == 3600
    answer = await command(mod, mod_dm, f"!debat fermer {code}", bot, room_id)
    assert "fermé" in answer.body
    assert not app.engine.open_rounds()
    await mod.wait_message(lambda s: "Synthèse" in s.body, room_id, bot)

    files_before = len(files_from_bot(members, bot))
    await refused_everywhere(f"!debat exporter md {code}")
    await refused_everywhere(f"!debat ouvrir {DEBATE}")
    assert not app.engine.open_rounds()
    assert len(files_from_bot(members, bot)) == files_before, "an export was sent"

    mark = len(mod.seen)
    await mod.send(mod_dm, f"!debat exporter md {code}")
    export = await mod.wait_message(
        lambda s: s.content.get("msgtype") == "m.file", mod_dm, bot, after=mark
    )
    assert export.content["body"].endswith(".md")
    answer = await command(mod, mod_dm, f"!debat ouvrir {DEBATE}", bot, room_id)
    assert "ouvert" in answer.body
    assert len(app.engine.open_rounds()) == 1

    # Nothing at all was posted in the former DM once it had a third member.
    later = [s for s in alice.seen[alice_mark:] if s.room_id == alice_dm]
    assert not [s for s in later if getattr(s.event, "sender", None) == bot]
