"""Logs never carry who did what, even at DEBUG.

A whole round runs through discord.py (stances by button, an argument in the modal and one by
command, votes, an export, the close) with the bot's own log handler at DEBUG; the captured log
must hold none of the members' ids, names, interaction ids or tokens, nor their argument texts.
The same round with a plain handler shows that discord.py does log them, so the first test can
fail.
"""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from discord_support import DEBATE, FR, Launch, discord_config, stop
from fake_discord import CHANNEL_ID, MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, Member

from bot.logs import setup_logging

ARGUMENT_BY_MODAL = "Les communs numériques protègent mieux que le marché seul."
ARGUMENT_BY_COMMAND = "Chaque quartier devrait pouvoir héberger ses propres services."


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root handlers and every logger's level back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


async def run_round(fake: FakeDiscord, launch: Launch, data_dir: Path) -> set[str]:
    """A whole round; returns every string that would identify a member or their answers."""
    app = await launch(discord_config(data_dir))
    # Names no log line would contain by chance.
    ysolde, wendelin, quirina = (Member(fake, n) for n in ("ysolde", "wendelin", "quirina"))
    modeste = Member(fake, "modeste", permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
    await modeste.slash("ouvrir", **{"debat-id": DEBATE})
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    (announcement,) = [
        copy.deepcopy(m) for m in fake.channel_messages() if m["embeds"] and m["components"]
    ]
    (r,) = app.engine.open_rounds()
    await ysolde.click(announcement, f"debat:stance:{r.id}:personnes")
    await wendelin.click(announcement, f"debat:stance:{r.id}:profit")
    await quirina.click(announcement, f"debat:stance:{r.id}:nuance")
    form = await ysolde.click(announcement, f"debat:argue:{r.id}")
    argued = await ysolde.submit(form.modal, {"argument": ARGUMENT_BY_MODAL}, message=announcement)
    ((number, _, _),) = await app.engine.list_arguments(r.id)
    assert argued.content == FR("argument_recorded", number=number)
    await wendelin.slash("position", position="profit", argument=ARGUMENT_BY_COMMAND)
    for voter in (quirina, ysolde):
        prompt = await voter.click(announcement, f"debat:vote:{r.id}")
        while agree := [c for c in prompt.custom_ids if c.endswith(":agree")]:
            prompt = await voter.click(fake.messages[prompt.message_id or ""], agree[0])
    await voter.slash("ma-position")
    panel = await modeste.slash("moderation")
    assert panel.ephemeral
    start = len(fake.calls)
    closing = await modeste.slash("fermer")
    assert "fermé" in closing.content
    await fake.wait_for(
        lambda c: (
            c.path == f"/channels/{CHANNEL_ID}/messages"
            and "Synthèse" in json.dumps(c.body, ensure_ascii=False)
        ),
        after=start,
    )
    exported = await modeste.slash("exporter", format="json")
    assert exported.edits[-1].files
    await stop(app)

    secrets = {ARGUMENT_BY_MODAL, ARGUMENT_BY_COMMAND}
    for member in (ysolde, wendelin, quirina, modeste):
        secrets |= {str(member.id), member.name, member.display_name}
    for interaction in fake.interactions:
        secrets |= {interaction["id"], interaction["token"]}
    return secrets


async def test_the_bot_log_at_debug_holds_no_identity(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, restore_logging: None
) -> None:
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    secrets = await run_round(fake, launch, tmp_path / "data")
    text = buffer.getvalue()
    assert "cogs." in text or "bot." in text  # the bot's own lines are there
    assert "discord.gateway" in text  # and discord.py's connection lines
    leaked = sorted(s for s in secrets if s in text)
    assert leaked == [], leaked


async def test_a_plain_debug_log_would_hold_them(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, restore_logging: None
) -> None:
    """The positive control: without the bot's handler, discord.py logs whole payloads."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("discord").setLevel(logging.DEBUG)
    secrets = await run_round(fake, launch, tmp_path / "data")
    text = buffer.getvalue()
    assert any(s in text for s in secrets)


async def test_an_unexpected_failure_is_logged_without_what_the_member_typed(
    fake: FakeDiscord,
    launch: Launch,
    tmp_path: Path,
    members: dict[str, Member],
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    """A database error quotes its statement's parameters (the argument's text among them):
    the bot logs that something failed and where, not the exception's message."""
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    app = await launch(discord_config(tmp_path / "data"))
    await app.engine.open_round(DEBATE)
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    (announcement,) = [
        copy.deepcopy(m) for m in fake.channel_messages() if m["embeds"] and m["components"]
    ]
    (r,) = app.engine.open_rounds()

    def failing(*args: object, **kwargs: object) -> None:
        text = next(a for a in args[::-1] if isinstance(a, str))
        raise sa.exc.IntegrityError(
            "INSERT INTO argument (round_id, author, number, text) VALUES (?, ?, ?, ?)",
            (r.id, "pseudonym", 17, text),
            Exception("UNIQUE constraint failed: argument.round_id, argument.number"),
        )

    monkeypatch.setattr(app.engine, "add_argument", failing)
    monkeypatch.setattr(app.engine, "submit_position", failing)
    alice = members["alice"]
    form = await alice.click(announcement, f"debat:argue:{r.id}")
    by_modal = await alice.submit(form.modal, {"argument": ARGUMENT_BY_MODAL})  # a component
    by_command = await alice.slash(  # an application command
        "position", position="profit", argument=ARGUMENT_BY_COMMAND
    )
    for outcome in (by_modal, by_command):
        assert outcome.content == app.adapters["discord"].texts("error")  # type: ignore[attr-defined]
    text = buffer.getvalue()
    assert text.count("IntegrityError") >= 2  # both failures are logged, with their frames
    assert "test_discord_logs.py" in text
    assert ARGUMENT_BY_MODAL not in text and ARGUMENT_BY_COMMAND not in text
