"""How the core's posts look on Discord: reminders, refreshes, long summaries, retries."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path

import pytest
from discord_support import DEBATE, Launch, debate, discord_config
from fake_discord import CHANNEL_ID, EPHEMERAL, FakeDiscord, Member

from bot.adapters.discord import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    MESSAGE_LIMIT,
    SUMMARY_MESSAGES_MAX,
    DiscordAdapter,
    fit,
)
from bot.app import App
from bot.events import Attachment, ChannelRef, PostKind, RoundPost
from bot.lifecycle import Action

HERE = ChannelRef("discord", str(CHANNEL_ID))
PNG = Attachment("synthese.png", b"\x89PNG\r\n\x1a\nchart", "image/png")


def adapter_of(app: App) -> DiscordAdapter:
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    return adapter


async def open_round(app: App, fake: FakeDiscord) -> tuple[int, str]:
    info = await app.engine.open_round(DEBATE)
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    (announcement_id,) = [m["id"] for m in fake.channel_messages()]
    # The bot keeps the announcement's id (in the database) just after Discord answers.
    for _ in range(200):
        if await adapter_of(app).announcements.get(info.id, CHANNEL_ID) is not None:
            break
        await asyncio.sleep(0.01)
    return info.id, announcement_id


async def post(app: App, round_id: int, kind: PostKind) -> RoundPost:
    built = await app.engine.build_post(round_id, kind)
    assert built is not None
    return built


async def test_reminder_answers_the_announcement(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    round_id, announcement_id = await open_round(app, fake)
    start = len(fake.calls)
    assert await app.engine.apply(round_id, Action.REMIND)
    call = await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages", after=start)
    assert str(call.body["message_reference"]["message_id"]) == announcement_id
    assert call.body["message_reference"]["fail_if_not_exists"] is False
    assert "Rappel" in call.body["content"] and "<t:" in call.body["content"]
    assert call.body["allowed_mentions"] == {"parse": []}


async def test_a_retried_announcement_edits_instead_of_posting_twice(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    round_id, announcement_id = await open_round(app, fake)
    await fake.settle()
    start = len(fake.calls)
    await adapter_of(app).publish(HERE, await post(app, round_id, PostKind.ANNOUNCEMENT))
    assert fake.channel_posts(after=start) == []
    (edit,) = [c for c in fake.calls[start:] if c.method == "PATCH"]
    assert edit.path == f"/channels/{CHANNEL_ID}/messages/{announcement_id}"
    assert edit.body["components"]  # the buttons are still there


async def test_refreshes_survive_a_deleted_or_unknown_announcement(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    round_id, announcement_id = await open_round(app, fake)
    adapter = adapter_of(app)
    progress = await post(app, round_id, PostKind.PROGRESS)
    del fake.messages[announcement_id]  # a moderator deleted it
    await adapter.publish(HERE, progress)  # no error: the outbox must not retry forever
    assert await adapter.announcements.get(round_id, CHANNEL_ID) is None
    start = len(fake.calls)
    await adapter.publish(HERE, progress)  # nothing left to edit: nothing is called
    assert fake.calls[start:] == []


async def test_missing_permissions_are_explained(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    info = await app.engine.open_round(DEBATE)
    fake.forbidden_channels.add(str(CHANNEL_ID))
    with pytest.raises(RuntimeError, match="Send Messages, Embed Links, Attach Files"):
        await adapter_of(app).publish(HERE, await post(app, info.id, PostKind.ANNOUNCEMENT))


async def test_late_announcement_of_a_closed_round_has_no_buttons(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    info = await app.engine.open_round(DEBATE)
    announcement = await post(app, info.id, PostKind.ANNOUNCEMENT)
    await app.engine.close_round(info.id)
    await fake.settle()
    other = ChannelRef("discord", "1300000000000000099")
    start = len(fake.calls)
    await adapter_of(app).publish(other, announcement)
    (call,) = fake.channel_posts(1300000000000000099, after=start)
    assert "components" not in call.body or call.body["components"] == []
    assert "Tour fermé" in call.body["embeds"][0]["description"]


def long_summary(post: RoundPost, arguments: int) -> RoundPost:
    lines = [f"**Synthèse du tour {post.round_code} — « {post.question} »**", ""]
    lines.append("Participants : 240.")
    lines.extend(f"• Le profit : {n} (10 %)" for n in range(4))
    lines.append("")
    for n in range(arguments):
        lines.append(f"• n° {n} [Pour] " + " ".join(f"mot{n}x{k}" for k in range(40)))
        lines.append("  d'accord 5 · pas d'accord 2 · passe 1")
    return dataclasses.replace(
        post, kind=PostKind.SUMMARY, text="\n".join(lines), attachments=(PNG,)
    )


@pytest.mark.parametrize(("arguments", "cut"), [(3, False), (40, False), (400, True)])
async def test_summaries_fit_discord_limits_without_cutting_words(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, arguments: int, cut: bool
) -> None:
    app = await launch(discord_config(tmp_path / "data"))
    info = await app.engine.open_round(DEBATE)
    summary = long_summary(await post(app, info.id, PostKind.ANNOUNCEMENT), arguments)
    batches = adapter_of(app).summary_embeds(summary)
    assert 1 <= len(batches) <= SUMMARY_MESSAGES_MAX
    for batch in batches:
        assert len(batch) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in batch) <= EMBED_TOTAL_LIMIT
        assert all(len(e.description or "") <= EMBED_DESCRIPTION_LIMIT for e in batch)
    assert batches[0][0].title and batches[0][0].title.startswith("Synthèse du tour")
    assert batches[0][0].image.url == "attachment://synthese.png"
    shown = [w for batch in batches for e in batch for w in (e.description or "").split()]
    body_words = summary.text.split("\n", 1)[1].split()
    if not cut:
        assert shown == body_words  # everything, every word whole
    else:
        assert len(batches) == SUMMARY_MESSAGES_MAX
        assert shown[-1] == "(modération)."  # cut at the end, with a pointer to the export
        kept = shown[: shown.index("…")]
        assert kept == body_words[: len(kept)]
        assert len(kept) > len(body_words) // 10

    await fake.settle()
    start = len(fake.calls)
    await adapter_of(app).publish(HERE, summary)
    posts = fake.channel_posts(after=start)
    assert len(posts) == len(batches)
    assert [name for name, _, _ in posts[0].files] == ["synthese.png"]
    assert all(not p.files for p in posts[1:])


async def test_long_private_answers_are_split_into_ephemeral_messages(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    config = discord_config(tmp_path / "data", debates=[debate(argument_max_chars=1000)])
    app = await launch(config)
    await open_round(app, fake)
    alice = members["alice"]
    # Three different arguments (the same one sent again is stored once).
    vocabularies = [[f"argument{n}x{k}" for k in range(76)] for n in range(3)]
    for vocabulary in vocabularies:
        text = " ".join(vocabulary)
        assert 900 < len(text) < 1000
        await alice.slash("position", position="profit", argument=text)
    mine = await alice.slash("ma-position")
    assert mine.ephemeral
    assert len(mine.content) <= MESSAGE_LIMIT
    assert mine.followups, "3 arguments of ~1000 characters need a second message"
    for followup in mine.followups:
        assert followup.body["flags"] & EPHEMERAL
        assert len(followup.body["content"]) <= MESSAGE_LIMIT
        assert followup.body["allowed_mentions"] == {"parse": []}
    chunks = [mine.content] + [f.body["content"] for f in mine.followups]
    shown = [w for chunk in chunks for w in chunk.split() if re.fullmatch(r"argument\d+x\d+", w)]
    # All of it, no word cut in two: each argument's words in order, in one run.
    assert sorted(shown) == sorted(w for v in vocabularies for w in v)
    for vocabulary in vocabularies:
        assert " ".join(vocabulary) in " ".join(shown)


async def test_english_configuration(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data", language="en"))
    await open_round(app, fake)
    (announcement,) = fake.channel_messages()
    labels = {c["label"] for row in announcement["components"] for c in row["components"]}
    assert {"Add an argument", "Vote on arguments", "My position", "People"} <= labels
    helped = await members["dave"].slash("aide")
    assert "/debate position" in helped.content


def test_fit_cuts_at_a_word_boundary() -> None:
    text = "une phrase assez longue pour être coupée proprement"
    short = fit(text, 20)
    assert len(short) <= 20 and short.endswith(" …")
    assert text.startswith(short[:-2])
    assert all(word in text.split() for word in short[:-2].split())
    assert fit("court", 20) == "court"
    assert fit("x" * 50, 20) == "x" * 19 + "…"
