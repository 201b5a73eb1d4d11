"""Custom ids are public: they carry an argument's public number, never its database id.

Every member's client receives the custom ids of the buttons it is shown. A database id would
tell voters in which order arguments were written (and so, with a little knowledge of who
answered when, who wrote which); the public number is random and tells nothing.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import sqlalchemy as sa
from discord_support import DEBATE, FR, Launch
from fake_discord import CHANNEL_ID, FakeDiscord, Member, Outcome

from bot.app import App
from bot.config import Config
from bot.engine import VOTE_VALUES
from bot.models import table

ARGUMENTS = {
    "alice": "Les plateformes doivent appartenir à ceux qui les font vivre.",
    "bob": "Sans règles communes, la donnée reste captée par quelques-uns.",
    "carol": "Un service public du numérique est possible et souhaitable.",
}
PROMPT = re.compile(r"Argument n° (\d+)")


def vote_buttons(outcome: Outcome) -> dict[str, str]:
    """The vote buttons on a prompt, by value (the last segment of the custom id)."""
    return {
        custom_id.rsplit(":", 1)[1]: custom_id
        for custom_id in outcome.custom_ids
        if custom_id.startswith("debat:vote") and custom_id.count(":") == 4
    }


def quoted(outcome: Outcome) -> str:
    return " ".join(line[2:] for line in outcome.content.splitlines() if line.startswith("> "))


async def arguments_in_db(app: App, round_id: int) -> dict[int, tuple[int, str]]:
    """Database id -> (public number, text) of the round's arguments."""

    def read(conn: sa.Connection) -> dict[int, tuple[int, str]]:
        a = table("argument")
        rows = conn.execute(
            sa.select(a.c.id, a.c.number, a.c.text).where(a.c.round_id == round_id)
        )
        return {int(i): (int(n), str(t)) for i, n, t in rows}

    return await app.db.read(read)


async def votes_in_db(app: App, round_id: int) -> dict[str, int]:
    """Argument text -> the value of the vote on it (one voter in this test)."""

    def read(conn: sa.Connection) -> dict[str, int]:
        a, v = table("argument"), table("vote")
        rows = conn.execute(
            sa.select(a.c.text, v.c.value)
            .select_from(v.join(a, a.c.id == v.c.argument_id))
            .where(v.c.round_id == round_id)
        )
        return {str(t): int(value) for t, value in rows}

    return await app.db.read(read)


async def vote_with_every_value(
    fake: FakeDiscord, dave: Member, round_id: int, announcement: dict[str, Any]
) -> dict[str, str]:
    """Agree, disagree, then pass on the arguments shown, checking each prompt's buttons;
    returns the value given to each argument's text."""
    values = ["agree", "disagree", "pass"]
    chosen: dict[str, str] = {}
    prompt = await dave.click(announcement, f"debat:vote:{round_id}")
    while buttons := vote_buttons(prompt):
        shown = PROMPT.search(prompt.content)
        assert shown is not None, prompt.content
        number = shown.group(1)
        for value, custom_id in buttons.items():
            assert custom_id == f"debat:vote-on:{round_id}:{number}:{value}"
        value = values[len(chosen)]
        chosen[quoted(prompt)] = value
        prompt = await dave.click(fake.messages[prompt.message_id or ""], buttons[value])
        assert prompt.content.startswith(FR("discord_vote_recorded") + "\n")
    assert len(chosen) == len(ARGUMENTS)
    return chosen


async def test_custom_ids_carry_public_numbers_never_database_ids(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    app = await launch(config)
    modo, dave = members["modo"], members["dave"]
    await modo.slash("ouvrir", **{"debat-id": DEBATE})
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    (announcement,) = [
        copy.deepcopy(m) for m in fake.channel_messages() if m["embeds"] and m["components"]
    ]
    (r,) = app.engine.open_rounds()

    # Three authors: two through the modal, one through /debat position.
    for name in ("alice", "carol"):
        member = members[name]
        await member.click(announcement, f"debat:stance:{r.id}:personnes")
        form = await member.click(announcement, f"debat:argue:{r.id}")
        await member.submit(form.modal, {"argument": ARGUMENTS[name]}, message=announcement)
    await members["bob"].slash("position", position="profit", argument=ARGUMENTS["bob"])

    # One voter goes through every argument with the buttons: agree, disagree, pass.
    chosen = await vote_with_every_value(fake, dave, r.id, announcement)

    # A moderator looks at one argument (the select, the hide and back buttons).
    panel = await modo.slash("moderation")
    stored = await arguments_in_db(app, r.id)
    some_number = next(iter(stored.values()))[0]
    await modo.click(
        fake.messages[panel.message_id or ""],
        f"debat:mod-pick:{r.id}:0",
        values=[str(some_number)],
    )

    # No custom id the bot ever sent names an argument by its database id.
    numbers = {number for number, _ in stored.values()}
    sent = fake.sent_custom_ids()
    assert any(c.startswith("debat:vote-on:") for c in sent)
    assert any(c.startswith("debat:mod-hide:") for c in sent)
    for custom_id in sent:
        parts = custom_id.split(":")
        # debat:<action>:<round>:…; the round is public (its code is announced anyway).
        carried = parts[3:] if parts[0] == "debat" else parts
        for part in carried:
            if part.isdigit() and int(part) in stored:
                # Only a public number that happens to equal some database id.
                assert int(part) in numbers, custom_id
    # And the votes landed on the arguments that were shown.
    expected = {text: VOTE_VALUES[value] for text, value in chosen.items()}
    assert await votes_in_db(app, r.id) == expected


async def test_a_vote_button_of_the_old_format_records_nothing(
    fake: FakeDiscord, launch: Launch, config: Config, members: dict[str, Member]
) -> None:
    """A prompt shown before the upgrade carried a database id: its buttons must not vote on
    whichever argument now has that number; they show the member a fresh prompt."""
    app = await launch(config)
    info = await app.engine.open_round(DEBATE)
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    number = await app.engine.add_argument(info.id, "test", "someone", "Un argument.")
    argument_id = app.engine.argument_id(info.id, number)
    dave = members["dave"]
    prompt = await dave.slash("voter")
    assert vote_buttons(prompt)
    # The same private prompt as a client kept it from before the upgrade.
    stale = f"debat:vote-answer:{info.id}:{number}:agree"  # read as an old database id
    message = copy.deepcopy(fake.messages[prompt.message_id or ""])
    message["components"] = [
        {"type": 1, "components": [{"type": 2, "style": 3, "label": "ok", "custom_id": stale}]}
    ]
    outcome = await dave.click(message, stale)
    assert outcome.ephemeral
    assert f"Argument n° {number}" in outcome.content  # a fresh prompt for the same argument
    assert await votes_in_db(app, info.id) == {}
    assert argument_id in app.engine.open_round_by_id(info.id).arguments  # type: ignore[union-attr]
