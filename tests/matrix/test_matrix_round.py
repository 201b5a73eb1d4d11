"""A whole round on a real Synapse: announce, answer in DMs, vote with reactions, moderate."""

from __future__ import annotations

import logging

import nio
import pytest
from conftest import DEBATE, Bots, Users, adapter_of, make_room
from matrix_members import Member, Seen, has

from bot.i18n import Messages
from bot.render import markdown_to_plain

pytestmark = pytest.mark.synapse


def is_notice(seen: Seen) -> bool:
    """What every text the bot sends must look like: a notice, HTML + plain, no mention."""
    content = seen.content
    return (
        content.get("msgtype") == "m.notice"
        and content.get("format") == "org.matrix.custom.html"
        and bool(content.get("formatted_body"))
        and content.get("m.mentions") == {}
    )


def reactions_on(member: Member, event_id: str, sender: str) -> set[str]:
    """The reaction keys ``sender`` put under the event ``event_id``, as ``member`` sees them."""
    return {
        str(s.event.key)
        for s in member.seen
        if isinstance(s.event, nio.ReactionEvent)
        and s.event.sender == sender
        and s.event.reacts_to == event_id
    }


async def test_whole_round(users: Users, members: dict[str, Member], bots: Bots) -> None:
    mod, alice, bob, carol = (members[n] for n in ("mod", "alice", "bob", "carol"))
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id, carol.user_id])
    for member in (alice, bob, carol):
        await mod.wait_joined(room_id, member.user_id)
    # Sent before the bot is even running: history, never acted on.
    await mod.send(room_id, f"!debat ouvrir {DEBATE}")
    # A room the bot may not join (not in allowed_rooms, not a DM).
    other = await alice.client.room_create(name="Ailleurs", invite=[bot])
    assert isinstance(other, nio.RoomCreateResponse)

    # The invite arrived while the bot was offline: it is in the first sync and accepted.
    app = await bots.start(alias)
    # nio logs whole responses (a DM next to its sender) at DEBUG and each member's account
    # and DM room at INFO; peewee logs the crypto store's queries: the adapter prevents it.
    for name in ("nio", "nio.responses", "nio.crypto", "peewee"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    await mod.wait_joined(room_id, bot)
    await alice.wait(
        lambda: (
            other.room_id in alice.client.rooms
            and bot not in alice.client.rooms[other.room_id].users
        ),
        what="the bot to decline the invite",
    )

    # ------------------------------------------------------------------ the round opens
    mark = len(mod.seen)
    await mod.send(room_id, f"!debat ouvrir {DEBATE}")
    announcement = await mod.wait_message(has("plateformes"), room_id, bot, after=mark)
    assert is_notice(announcement)
    rounds = app.engine.open_rounds()
    assert len(rounds) == 1, "the command sent before the bot joined was acted on"
    code = rounds[0].code
    assert code in announcement.body and code in announcement.content["formatted_body"]
    assert "<strong>" in announcement.content["formatted_body"]
    # It says how to take part: write to the bot in private, its id a link (not a mention).
    fr = Messages("fr")
    assert markdown_to_plain(fr("matrix_announcement_join", bot=bot)) in announcement.body
    assert f'<a href="https://matrix.to/#/{bot}">' in announcement.content["formatted_body"]
    # The moderator's confirmation is private: in a DM the bot opens.
    opened = await mod.wait_message(has(f"Tour {code} ouvert"), sender=bot)
    assert opened.room_id != room_id and is_notice(opened)

    # ------------------------------------------------------------------ three members answer
    # Alice opens an unencrypted DM and writes before the bot has even joined it.
    alice_dm = await alice.create_dm(bot, encrypted=False)
    await alice.send(alice_dm, "!position pour Les plateformes <b>doivent</b> payer @room")
    reply = await alice.wait_message(has("Position enregistrée"), alice_dm, bot)
    assert is_notice(reply) and "Pour" in reply.body
    # Her first DM began with the round's question and its numbered stances.
    [intro] = [s for s in alice.messages(alice_dm, bot) if fr("matrix_first_dm") in s.body]
    assert intro.event.event_id != reply.event.event_id
    r = app.engine.open_rounds()[0]
    assert markdown_to_plain(app.engine.numbered_stances(r)) in intro.body
    assert app.engine.question_text(r.debate_id, r.question_id) in intro.body

    # Bob's DM is encrypted, as Element makes them.
    bob_dm = await bob.create_dm(bot, encrypted=True)
    await bob.wait_joined(bob_dm, bot)
    await bob.send(bob_dm, "!position contre Ce sont des services utiles")
    reply = await bob.wait_message(has("Position enregistrée"), bob_dm, bot)
    assert reply.event.decrypted and is_notice(reply)

    # Carol asks in the room; the bot opens an (encrypted) DM with her and sends the help.
    await carol.send(room_id, "!debat participer")
    help_ = await carol.wait_message(
        lambda s: s.room_id != room_id and "!ma-position" in s.body, sender=bot
    )
    carol_dm = help_.room_id
    assert carol_dm != room_id and help_.event.decrypted
    await carol.send(carol_dm, "!position nuance Il faut surtout réguler")
    await carol.wait_message(has("Position enregistrée"), carol_dm, bot)

    # Participation shows up as an edit of the announcement (no new message in the room).
    def progress_edit(seen: Seen) -> bool:
        relation = seen.content.get("m.relates_to", {})
        new = seen.content.get("m.new_content", {})
        return (
            relation.get("rel_type") == "m.replace"
            and relation.get("event_id") == announcement.event.event_id
            and "3 participation" in new.get("body", "")
        )

    edit = await mod.wait_message(progress_edit, room_id, bot)
    assert edit.content["m.new_content"]["m.mentions"] == {}

    # Member text comes back escaped in both bodies, and no @room ping.
    mark = len(alice.seen)
    await alice.send(alice_dm, "!ma-position")
    mine = await alice.wait_message(has("Pour"), alice_dm, bot, after=mark)
    assert "<b>doivent</b>" in mine.body
    assert "&lt;b&gt;doivent&lt;/b&gt;" in mine.content["formatted_body"]
    assert "<b>" not in mine.content["formatted_body"]
    assert "@room" not in mine.body and "@room" not in mine.content["formatted_body"]

    # ------------------------------------------------------------------ votes with reactions
    mark = len(alice.seen)
    await alice.send(alice_dm, "!voter")
    prompt = await alice.wait_message(has("Argument n°"), alice_dm, bot, after=mark)
    # The prompt says the reactions count, and the bot put them there for one-tap answers.
    assert Messages("fr")("matrix_vote_reactions") in prompt.body
    await alice.wait(
        lambda: reactions_on(alice, prompt.event.event_id, bot) == {"👍", "👎", "⏭️"},
        what="the bot's three reactions under the vote prompt",
    )
    mark = len(alice.seen)
    await alice.react(alice_dm, prompt.event.event_id, "👍")
    prompt = await alice.wait_message(has("Argument n°"), alice_dm, bot, after=mark)
    mark = len(alice.seen)
    await alice.react(alice_dm, prompt.event.event_id, "👎")
    await alice.wait_message(has("voté sur tous"), alice_dm, bot, after=mark)

    mark = len(bob.seen)
    await bob.send(bob_dm, "!voter")
    prompt = await bob.wait_message(has("Argument n°"), bob_dm, bot, after=mark)
    mark = len(bob.seen)
    await bob.react(bob_dm, prompt.event.event_id, "⏭")
    await bob.wait_message(has("Argument n°"), bob_dm, bot, after=mark)
    mark = len(bob.seen)
    await bob.send(bob_dm, "oui")
    await bob.wait_message(has("voté sur tous"), bob_dm, bot, after=mark)

    # ------------------------------------------------------------------ moderation
    mark = len(alice.seen)
    await alice.send(room_id, "!debat fermer")
    refused = await alice.wait_message(has("réservée aux modérateurs"), sender=bot, after=mark)
    assert refused.room_id == alice_dm
    assert app.engine.open_rounds(), "a non-moderator closed the round"

    # Power level 50 makes bob a moderator (the creator, mod, is not in power_levels at all).
    levels = await mod.client.room_get_state_event(room_id, "m.room.power_levels")
    assert mod.user_id not in levels.content.get("users", {})
    users_levels = {**levels.content.get("users", {}), bob.user_id: 50}
    await mod.client.room_put_state(
        room_id, "m.room.power_levels", {**levels.content, "users": users_levels}
    )
    mark = len(bob.seen)
    await bob.send(room_id, "!debat prolonger 1h")
    await bob.wait_message(has("prolongé"), bob_dm, bot, after=mark)

    mark = len(mod.seen)
    await mod.send(room_id, "!debat fermer")
    summary = await mod.wait_message(has("Synthèse"), room_id, bot, after=mark)
    assert is_notice(summary) and "3" in summary.body
    image = await mod.wait_message(
        lambda s: s.content.get("msgtype") == "m.image", room_id, bot, after=mark
    )
    assert image.content["url"].startswith("mxc://")
    assert image.content["info"]["mimetype"] == "image/png"
    assert image.content["m.mentions"] == {}
    # Beside its filename, the body is the image's caption: its alt text, in words.
    assert image.content["filename"] == "synthese.png"
    assert image.body.startswith("Graphique du tour ") and "positions : " in image.body
    assert not app.engine.open_rounds()

    # An export asked in the room goes to the moderator's DM, never into the room: even a
    # private one.
    mark = len(mod.seen)
    await mod.send(room_id, "!debat exporter csv")
    csv_file = await mod.wait_message(
        lambda s: s.content.get("msgtype") == "m.file", sender=bot, after=mark
    )
    assert csv_file.room_id != room_id
    assert csv_file.content["body"].endswith(".csv")

    # And in a public room.
    await mod.client.room_put_state(room_id, "m.room.join_rules", {"join_rule": "public"})
    mark = len(mod.seen)
    await mod.send(room_id, "!debat exporter json")
    json_file = await mod.wait_message(
        lambda s: s.content.get("msgtype") == "m.file", sender=bot, after=mark
    )
    assert json_file.room_id == opened.room_id
    assert json_file.content["body"].endswith(".json")
    assert "file" in json_file.content, "a file in an encrypted DM must be encrypted"

    # Nothing the bot posted in the room names a member, and nothing pings.
    for seen in mod.messages(room_id, bot):
        assert seen.content.get("m.mentions") == {}
        for member in (alice, bob, carol):
            assert member.user_id not in seen.body
    for member in (mod, alice, bob, carol):
        for seen in member.messages(sender=bot):
            assert seen.content.get("m.mentions") == {}

    adapter = adapter_of(app)
    assert (adapter.store_dir / "sync_token").exists()
