"""A member's message the bot cannot decrypt is answered, in plain text, once an hour.

The member's client stops sharing room keys with the bot's device (as a client that excludes
insecure devices does) and says so with ``m.room_key.withheld``: the bot answers in the DM,
unencrypted, what happened and what to do; a second such message within the hour gets no
second answer; once keys flow again the bot answers commands as before.
"""

from __future__ import annotations

import nio
import pytest
from conftest import Bots, Users, adapter_of
from matrix_members import Member

pytestmark = pytest.mark.synapse

CHANNEL = "!unused:localhost"
NOTICE = "Je n'ai pas pu lire votre dernier message"


def withheld(member: Member, room_id: str, bot: str, device_id: str) -> nio.ToDeviceMessage:
    olm = member.client.olm
    session = olm.outbound_group_sessions[room_id]
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": room_id,
        "session_id": session.id,
        "sender_key": olm.account.identity_keys["curve25519"],
        "code": "m.unverified",
        "reason": "The sender disabled sending keys to unverified devices.",
        "from_device": member.client.device_id,
    }
    return nio.ToDeviceMessage("m.room_key.withheld", bot, device_id, content)


async def test_an_undecryptable_message_is_answered_in_plain_text_once_an_hour(
    users: Users, members: dict[str, Member], bots: Bots
) -> None:
    alice = members["alice"]
    bot = users.ids["bot"]
    app = await bots.start(CHANNEL)
    adapter = adapter_of(app)
    assert adapter.client is not None
    bot_device = str(adapter.client.device_id)
    dm = await alice.create_dm(bot, encrypted=True)
    await alice.wait_joined(dm, bot)
    mark = len(alice.seen)
    await alice.send(dm, "!aide")
    await alice.wait_message(lambda s: "Participer" in s.body, dm, bot, after=mark)

    # Alice's client now keeps its room keys from the bot's device, and says so.
    if alice.client.should_query_keys:
        await alice.client.keys_query()
    device = alice.client.device_store[bot][bot_device]
    alice.client.blacklist_device(device)
    alice.client.invalidate_outbound_session(dm)
    mark = len(alice.seen)
    await alice.send(dm, "!ma-position")
    response = await alice.client.to_device(withheld(alice, dm, bot, bot_device))
    assert isinstance(response, nio.ToDeviceResponse), response
    told = await alice.wait_message(lambda s: NOTICE in s.body, dm, bot, after=mark)
    assert not told.event.decrypted, "the answer is readable without any key"
    assert "(m.unverified)" in told.body
    assert told.content["m.mentions"] == {}

    # Again within the hour: no second answer.
    await alice.send(dm, "!ma-position")
    alice.client.unblacklist_device(device)
    alice.client.invalidate_outbound_session(dm)
    after = len(alice.seen)
    await alice.send(dm, "!aide")
    await alice.wait_message(lambda s: "Participer" in s.body, dm, bot, after=after)
    assert sum(1 for s in alice.messages(dm, bot) if NOTICE in s.body) == 1
