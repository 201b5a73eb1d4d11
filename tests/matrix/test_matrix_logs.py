"""A whole Matrix round logged at DEBUG: no member identity reaches the log.

``bot.logs.setup_logging("DEBUG")`` is installed for the round (DMs with argument texts, votes
by reaction and by letter, a close, an export, the DM sweep), with nio and peewee forced to
DEBUG as a logging config could. The captured text must hold no member's user id or
localpart, DM room id, event id, argument text or access token. A plain ``StreamHandler`` on
the same records is the positive control: it does capture some of them.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import DEBATE, Bots, Users, adapter_of, make_room
from matrix_members import Member, Seen, has

from bot.logs import setup_logging

pytestmark = pytest.mark.synapse

ARGUMENTS = {
    "alice": "Argument-lumiere-7431 les plateformes doivent payer",
    "bob": "Argument-ombre-5519 ce sont des services utiles",
    "carol": "Argument-brume-2287 il faut surtout reguler",
}
# The loggers setup_logging() pins, and the ones this test forces to DEBUG.
TOUCHED = (
    "nio",
    "peewee",
    "aiohttp",
    "apscheduler",
    "sqlalchemy",
    "asyncio",
    "urllib3",
    "discord",
    "discord.http",
    "discord.state",
    "discord.webhook",
)


@dataclass
class Captured:
    scrubbed: io.StringIO  # through bot.logs' handler
    plain: io.StringIO  # a plain StreamHandler: the positive control
    own: io.StringIO  # the bot's own loggers, unscrubbed: what its log calls themselves say


@pytest.fixture
def captured_logs() -> Iterator[Captured]:
    """Three handlers on the same records; every logging setting is restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in TOUCHED}
    captured = Captured(io.StringIO(), io.StringIO(), io.StringIO())
    setup_logging("DEBUG", stream=captured.scrubbed)
    for stream, only in ((captured.plain, ""), (captured.own, "bot")):
        handler = logging.StreamHandler(stream)
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(logging.Filter(only))
        root.addHandler(handler)
    try:
        yield captured
    finally:
        for added in list(root.handlers):
            if added not in saved_handlers:
                root.removeHandler(added)
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


async def ask(member: Member, room_id: str, bot: str, command: str, expect: str) -> Seen:
    mark = len(member.seen)
    await member.send(room_id, command)
    return await member.wait_message(has(expect), room_id, bot, after=mark)


async def test_a_logged_round_names_nobody(
    users: Users,
    members: dict[str, Member],
    bots: Bots,
    captured_logs: Captured,
) -> None:
    mod, alice, bob, carol = (members[n] for n in ("mod", "alice", "bob", "carol"))
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot, alice.user_id, bob.user_id, carol.user_id])
    for member in (alice, bob, carol):
        await mod.wait_joined(room_id, member.user_id)
    app = await bots.start(alias)
    adapter = adapter_of(app)
    # The libraries' most talkative levels, as a logging config of the operator could set them
    # (setup_logging and the adapter pin them at WARNING; the handler must hold regardless).
    for name in ("nio", "peewee"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    await mod.wait_joined(room_id, bot)
    event_ids: set[str] = set()

    mark = len(mod.seen)
    event_ids.add(await mod.send(room_id, f"!debat ouvrir {DEBATE}"))
    await mod.wait_message(has("plateformes"), room_id, bot, after=mark)
    [opened] = app.engine.open_rounds()

    dms: dict[str, str] = {}
    for name, encrypted in (("alice", True), ("bob", True), ("carol", False)):
        member = members[name]
        dms[name] = await member.create_dm(bot, encrypted=encrypted)
        await member.wait_joined(dms[name], bot)
        await ask(member, dms[name], bot, f"!position pour {ARGUMENTS[name]}", "enregistrée")

    # Votes: alice by reactions, bob by numbers.
    prompt = await ask(alice, dms["alice"], bot, "!voter", "Argument n°")
    mark = len(alice.seen)
    event_ids.add(await alice.react(dms["alice"], prompt.event.event_id, "👍"))
    prompt = await alice.wait_message(has("Argument n°"), dms["alice"], bot, after=mark)
    mark = len(alice.seen)
    event_ids.add(await alice.react(dms["alice"], prompt.event.event_id, "👎"))
    await alice.wait_message(has("voté sur tous"), dms["alice"], bot, after=mark)
    await ask(bob, dms["bob"], bot, "!voter", "Argument n°")
    await ask(bob, dms["bob"], bot, "3", "Argument n°")
    await ask(bob, dms["bob"], bot, "1", "voté sur tous")

    # The moderator closes and exports; the bot then sweeps the DMs.
    mark = len(mod.seen)
    await mod.send(room_id, "!debat fermer")
    await mod.wait_message(has("Synthèse"), room_id, bot, after=mark)
    mark = len(mod.seen)
    await mod.send(room_id, f"!debat exporter md {opened.code}")
    export = await mod.wait_message(
        lambda s: s.content.get("msgtype") == "m.file", sender=bot, after=mark
    )
    assert export.room_id != room_id, "an export goes to the moderator privately"
    assert export.content["body"].endswith(".md")
    assert await adapter.wait_dm_cleanup(60)

    # ------------------------------------------------------------------ what to look for
    secrets: set[str] = set(ARGUMENTS.values())
    for name in ("mod", "alice", "bob", "carol"):
        member = members[name]
        secrets.add(member.user_id)
        secrets.add(member.user_id[1:].split(":")[0])  # "<random>-alice": distinctive
        secrets.add(member.client.access_token)
        for seen in member.seen:
            event_ids.add(str(seen.event.event_id))
            if seen.room_id != room_id:
                secrets.add(seen.room_id)  # a DM with the bot
    secrets.update(dms.values())
    secrets.update(e for e in event_ids if e.startswith("$"))
    session = json.loads((adapter.store_dir / "session.json").read_text())
    secrets.add(session["access_token"])
    assert len(secrets) > 30

    text = captured_logs.scrubbed.getvalue()
    assert "direct messages cleared after a round closed" in text, "the bot's own lines pass"
    leaked = sorted(s for s in secrets if s in text)
    assert not leaked, f"identities in the log: {leaked}"
    # The bot's own log calls name nobody even before any scrubbing.
    own = captured_logs.own.getvalue()
    assert "bot.adapters.matrix" in own
    leaked = sorted(s for s in secrets if s in own)
    assert not leaked, f"the bot's own log lines name: {leaked}"

    # Positive control: the same records, formatted by a plain handler, do name members.
    raw = captured_logs.plain.getvalue()
    assert [s for s in secrets if s in raw], "the positive control caught nothing"
