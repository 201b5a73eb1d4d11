"""After a round closes, the bot's DMs cannot be read back with what the bot keeps.

The attacker of this test has the homeserver (they capture the raw encrypted events of a DM
while the round is open) and later a copy of ``data_dir/matrix``. A copy taken before the close
decrypts the capture (the positive control); a copy taken after it does not, the events read
back redacted, and the member still talks to the bot in the same DM, with the same Megolm
session, in the next round.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import nio
import pytest
from conftest import DEBATE, Bots, Users, adapter_of, make_room
from matrix_homeserver import Synapse
from matrix_members import Member, Seen, has

from bot.events import PostKind

pytestmark = pytest.mark.synapse


async def ask(member: Member, room_id: str, bot: str, command: str, expect: str) -> Seen:
    mark = len(member.seen)
    await member.send(room_id, command)
    return await member.wait_message(has(expect), room_id, bot, after=mark)


async def raw_history(url: str, token: str, room_id: str) -> list[dict[str, Any]]:
    """Every event of ``room_id`` as the homeserver holds it (newest first), undecrypted."""
    events: list[dict[str, Any]] = []
    start: str | None = None
    path = f"{url}/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages"
    async with aiohttp.ClientSession() as http:
        while True:
            params = {"dir": "b", "limit": "100", **({"from": start} if start else {})}
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(path, params=params, headers=headers) as response:
                assert response.status == 200, await response.text()
                body = await response.json()
            events.extend(body["chunk"])
            if not body["chunk"] or not body.get("end"):
                return events
            start = body["end"]


def restored(copy: Path, url: str, bot: str) -> nio.AsyncClient:
    """A nio client that has nothing but a copy of the bot's ``data_dir/matrix``."""
    session = json.loads((copy / "session.json").read_text())
    client = nio.AsyncClient(
        url,
        bot,
        store_path=str(copy),
        config=nio.AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=False,
            pickle_key=(copy / "pickle_key").read_text().strip(),
        ),
    )
    client.restore_login(bot, session["device_id"], session["access_token"])
    return client


def decrypt(client: nio.AsyncClient, room_id: str, raw: dict[str, Any]) -> str | None:
    event = nio.MegolmEvent.from_dict(raw)
    event.room_id = room_id
    try:
        decrypted = client.decrypt_event(event)
    except nio.EncryptionError:
        return None
    return str(decrypted.source["content"].get("body", ""))


async def close(client: nio.AsyncClient) -> None:
    await client.close()
    client.store.database.close()


def stored_pickles(db: Path, room_id: str) -> dict[str, bytes]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT session_id, session FROM megolminboundsessions WHERE room_id = ?", (room_id,)
        ).fetchall()
    conn.close()
    return {str(sid): bytes(blob) for sid, blob in rows}


async def test_closed_rounds_dms_cannot_be_decrypted_again(
    synapse: Synapse, users: Users, members: dict[str, Member], bots: Bots, tmp_path: Path
) -> None:
    mod, alice = members["mod"], members["alice"]
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id])
    await mod.wait_joined(room_id, alice.user_id)
    app = await bots.start(alias)
    adapter = adapter_of(app)
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    await mod.wait_message(has(info.code), room_id, bot)

    dm = await alice.create_dm(bot, encrypted=True)
    await alice.wait_joined(dm, bot)
    await ask(alice, dm, bot, "!position pour Premier argument secret", "Position enregistrée")
    await ask(alice, dm, bot, "!position contre Second argument secret", "Position enregistrée")
    await ask(alice, dm, bot, "!ma-position", "Second argument secret")

    # The attacker captures the DM as the homeserver holds it.
    captured = [
        e
        for e in await raw_history(synapse.url, alice.client.access_token, dm)
        if e["type"] == "m.room.encrypted"
    ]
    assert {e["sender"] for e in captured} == {alice.user_id, bot}
    assert len(captured) >= 6
    alice_sessions = {e["content"]["session_id"] for e in captured if e["sender"] != bot}
    bot_sessions = {e["content"]["session_id"] for e in captured if e["sender"] == bot}

    # Positive control: what the bot keeps decrypts all of it, both sides, with the texts.
    before = tmp_path / "copy-before"
    shutil.copytree(adapter.store_dir, before)
    reader = restored(before, synapse.url, bot)
    try:
        texts = [decrypt(reader, dm, e) for e in captured]
    finally:
        await close(reader)
    assert None not in texts, "the positive control cannot decrypt the capture"
    assert any("Premier argument secret" in t for t in texts if t)
    assert any("Position enregistrée" in t for t in texts if t)

    # ------------------------------------------------------------------ the round closes
    mark = len(mod.seen)
    await mod.send(room_id, f"!debat fermer {info.code}")
    await mod.wait_message(has("Synthèse"), room_id, bot, after=mark)
    assert await adapter.wait_dm_cleanup(60), "the DM sweep did not finish"

    after = tmp_path / "copy-after"
    shutil.copytree(adapter.store_dir, after)
    reader = restored(after, synapse.url, bot)
    try:
        texts = [decrypt(reader, dm, e) for e in captured]
        sessions = list(reader.olm.inbound_group_store)
    finally:
        await close(reader)
    assert texts == [None] * len(captured), "a copy taken after the close still decrypts"
    # The member's session is kept, ratcheted past what the bot read (3 commands); the bot's
    # own are gone.
    assert [s.first_known_index for s in sessions if s.id in alice_sessions] == [3]
    assert not [s for s in sessions if s.id in bot_sessions]

    # Not even in the database file's free pages: none of the old pickles is left anywhere.
    [db] = before.glob("*.db")
    old = stored_pickles(db, dm)
    assert set(old) >= alice_sessions | bot_sessions
    leftovers = b"".join(p.read_bytes() for p in after.iterdir() if p.is_file())
    for session_id, blob in old.items():
        assert blob not in leftovers, f"the old pickle of {session_id} is still on disk"

    # The homeserver serves the events redacted.
    now = {e["event_id"]: e for e in await raw_history(synapse.url, alice.client.access_token, dm)}
    for event in captured:
        served = now[event["event_id"]]
        assert served["content"] == {} and "redacted_because" in served["unsigned"]

    # What the bot wrote about it links no account to a round.
    cleanup = json.loads((adapter.store_dir / "dm_cleanup.json").read_text())
    assert cleanup == {"pending": {}, "done": [info.id]}
    indexes = json.loads((adapter.store_dir / "megolm_read_index.json").read_text())
    assert all(isinstance(v, int) for v in indexes.values())
    assert not any(alice.user_id in k or dm in k for k in indexes)

    # ------------------------------------------------------------------ restart, next round
    await bots.stop(app)
    app = await bots.start(alias)
    adapter = adapter_of(app)
    # The summary published again (as the outbox would after a failure) sweeps nothing more.
    post = await app.engine.build_post(info.id, PostKind.SUMMARY)
    assert post is not None
    adapter.forgetting.schedule(post)
    assert adapter.forgetting.state is not None and adapter.forgetting.state.pending == {}

    mark = len(mod.seen)
    await mod.send(room_id, f"!debat ouvrir {DEBATE}")
    opened = await mod.wait_message(has("ouvert"), sender=bot, after=mark)
    assert opened.room_id != room_id
    [second] = app.engine.open_rounds()
    third = "!position nuance Troisième argument"
    reply = await ask(alice, dm, bot, third, "Position enregistrée")
    assert reply.event.decrypted and second.code in reply.body

    # Alice's client kept its session (the bot still decrypts it); the bot started a new one.
    latest = [
        e
        for e in await raw_history(synapse.url, alice.client.access_token, dm)
        if e["type"] == "m.room.encrypted" and e["content"]
    ]
    assert latest[0]["sender"] == bot and latest[1]["sender"] == alice.user_id
    assert latest[1]["content"]["session_id"] in alice_sessions
    assert latest[0]["content"]["session_id"] not in bot_sessions
