"""Every post exactly once in the room, even when the bot dies between posting and knowing.

Against a real Synapse. For each post (announcement, reminder, summary with its chart) the
post reaches the room and the process dies before the outbox hears of it (its "delivered"
mark raises, then the bot is stopped without a flush, as ``kill -9`` would); a new process on
the same data delivers the outbox again. The room's timeline is then read from Synapse.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from conftest import DEBATE, Bots, Users, make_room
from matrix_homeserver import Synapse
from matrix_members import Member

from bot.adapters.matrix import POST_FIELD
from bot.app import App
from bot.lifecycle import Action

pytestmark = pytest.mark.synapse


class Crash(Exception):
    """The process died here."""


def crash_before_marking(monkeypatch: pytest.MonkeyPatch, app: App, kind: str) -> None:
    """Posts of ``kind`` reach the room, and the outbox never learns it (others are marked)."""
    real = app.publisher._mark

    def kind_of(outbox_id: int) -> str:
        return str(
            app.db.read_sync(
                lambda conn: conn.exec_driver_sql(
                    "SELECT kind FROM outbox WHERE id = ?", (outbox_id,)
                ).scalar_one()
            )
        )

    async def mark(outbox_id: int, delivered: bool, error: str | None) -> None:
        if delivered and error is None and kind_of(outbox_id) == kind:
            raise Crash()
        await real(outbox_id, delivered, error)

    monkeypatch.setattr(app.publisher, "_mark", mark)


async def kill(bots: Bots, app: App) -> None:
    """Stop as ``kill -9`` would: no flush of the outbox, nothing marked."""
    bots.running.remove(app)
    await app.publisher.stop()
    await app.scheduler.stop()
    for adapter in app.adapters.values():
        await adapter.stop()
    await app.engine.stop()
    app.instance_lock.release()
    app.db.close()


async def timeline(synapse: Synapse, member: Member, room_id: str) -> list[dict[str, Any]]:
    """The room's events as Synapse stores them, oldest first (read with a member's token)."""
    url = f"{synapse.url}/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages"
    headers = {"Authorization": f"Bearer {member.client.access_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params={"dir": "b", "limit": "500"}, headers=headers) as response,
    ):
        assert response.status == 200
        body = json.loads(await response.text())
    return list(reversed(body["chunk"]))


def what_members_see(events: list[dict[str, Any]], bot: str, code: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for event in events:
        if event.get("sender") != bot or event.get("type") != "m.room.message":
            continue
        content = event.get("content") or {}
        body = str(content.get("body", ""))
        if content.get("msgtype") == "m.image":
            seen["chart"] += 1
        elif body.startswith("Synthèse du tour " + code):
            seen["summary"] += 1
        elif body.startswith("Rappel") and code in body:
            seen["reminder"] += 1
        elif code in body.split("\n", 1)[0]:
            seen["announcement"] += 1
        else:
            seen["other"] += 1
    return seen


async def crash_through_a_round(
    bots: Bots, alias: str, monkeypatch: pytest.MonkeyPatch, *, new_device: bool = False
) -> str:
    round_id, code = 0, ""
    for kind, step in (
        ("announcement", None),
        ("reminder", Action.REMIND),
        ("summary", Action.CLOSE),
    ):
        app = await bots.start(alias)
        crash_before_marking(monkeypatch, app, kind)
        if step is None:
            info = await app.engine.open_round(DEBATE)
            round_id, code = info.id, info.code
        else:
            if step == Action.CLOSE:
                # Enough positions for a chart: the summary is then two events, two keys.
                r = app.engine.open_round_by_id(round_id)
                assert r is not None
                for n in range(4):
                    user = f"@member{n}:{Synapse.server_name}"
                    await app.engine.submit_position(round_id, "matrix", user, r.stances[n % 2])
            assert await app.engine.apply(round_id, step)
        with pytest.raises(Crash):
            await app.publisher.deliver()
        store = app.config.data_dir / "matrix"
        await kill(bots, app)
        if new_device:
            # A new login: the homeserver no longer recognises the old transaction ids.
            (store / "session.json").unlink()
    app = await bots.start(alias)
    await app.publisher.deliver()
    pending = app.db.read_sync(
        lambda conn: conn.exec_driver_sql("SELECT count(*) FROM outbox WHERE NOT delivered")
    )
    assert pending.scalar_one() == 0
    return code


def assert_each_once(events: list[dict[str, Any]], bot: str, code: str) -> None:
    seen = what_members_see(events, bot, code)
    assert seen == Counter(announcement=1, reminder=1, summary=1, chart=1), seen
    keys = [
        (e.get("content") or {}).get(POST_FIELD)
        for e in events
        if e.get("sender") == bot and e.get("type") == "m.room.message"
    ]
    assert None not in keys and len(keys) == len(set(keys)), keys
    # The key names a round, a kind and an outbox row: nothing about any member.
    assert all(str(k).split("-")[1] in ("announcement", "reminder", "summary") for k in keys)


async def test_each_post_once_after_crashes_between_posting_and_marking(
    synapse: Synapse,
    users: Users,
    members: dict[str, Member],
    bots: Bots,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mod = members["mod"]
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot])
    code = await crash_through_a_round(bots, alias, monkeypatch)
    assert_each_once(await timeline(synapse, mod, room_id), bot, code)


async def test_a_new_device_finds_its_earlier_posts_in_the_room(
    synapse: Synapse,
    users: Users,
    members: dict[str, Member],
    bots: Bots,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The homeserver's transaction ids are per device: after a new login only the key in
    the events' content tells the bot what it already posted."""
    mod = members["mod"]
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot])
    code = await crash_through_a_round(bots, alias, monkeypatch, new_device=True)
    assert_each_once(await timeline(synapse, mod, room_id), bot, code)
