"""Every post exactly once in the channel, even when the bot dies between posting and knowing.

The crash is injected where it hurts: the post has reached Discord, the outbox has not been
told (its "delivered" mark raises). The bot then stops (its flush retries, failing to mark
again) and a new process starts on the same data directory and database, which delivers the
outbox again. What members see is read back from the fake Discord's channel, as Discord stores
it. Three layers keep each message single, each tested alone:

* the adapter's record of what it sent (``discord-posts.json``), outside Discord's nonce window;
* the bot's own recent messages and their nonces, when the process died before the record;
* Discord's ``enforce_nonce``, within its window, when neither of the above knows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from discord_support import DEBATE, Launch, discord_config
from fake_discord import CHANNEL_ID, FakeDiscord

from bot.adapters.discord import DiscordAdapter
from bot.app import App
from bot.lifecycle import Action


class Crash(Exception):
    """The process died here."""


def adapter_of(app: App) -> DiscordAdapter:
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    return adapter


def crash_before_marking(monkeypatch: pytest.MonkeyPatch, app: App, kind: str) -> None:
    """Posts of ``kind`` reach Discord, and the outbox never learns it (others are marked)."""
    real = app.publisher._mark
    kinds: dict[int, str] = dict(
        app.db.read_sync(lambda conn: conn.exec_driver_sql("SELECT id, kind FROM outbox").all())
    )

    async def mark(outbox_id: int, delivered: bool, error: str | None) -> None:
        if outbox_id not in kinds:
            kinds.update(
                app.db.read_sync(
                    lambda conn: conn.exec_driver_sql("SELECT id, kind FROM outbox").all()
                )
            )
        if kinds.get(outbox_id) == kind and delivered and error is None:
            raise Crash()
        await real(outbox_id, delivered, error)

    monkeypatch.setattr(app.publisher, "_mark", mark)


async def kill(app: App) -> None:
    """Stop as ``kill -9`` would: no flush of the outbox, nothing marked."""
    await app.publisher.stop()
    await app.scheduler.stop()
    for adapter in app.adapters.values():
        await adapter.stop()
    await app.engine.stop()
    app.instance_lock.release()
    app.db.close()


def forget_what_was_sent(monkeypatch: pytest.MonkeyPatch, app: App) -> None:
    """The process dies right after Discord answers, before the adapter records the message."""
    adapter = adapter_of(app)

    async def nothing(*args: Any) -> None:
        return None

    monkeypatch.setattr(adapter.sent, "remember_part", nothing)
    monkeypatch.setattr(adapter.announcements, "remember", nothing)


def what_members_see(fake: FakeDiscord, code: str) -> Counter[str]:
    """The round's posts in the channel, by kind, as Discord stores them now."""
    seen: Counter[str] = Counter()
    for message in fake.channel_messages(CHANNEL_ID):
        titles = [str(e.get("title") or "") for e in message["embeds"]]
        if any(code in t and "Synthèse" not in t for t in titles):
            seen["announcement"] += 1
        elif any(t.startswith("Synthèse") for t in titles):
            seen["summary"] += 1
        elif "Rappel" in message["content"] and code in message["content"]:
            seen["reminder"] += 1
        elif message["embeds"]:
            seen["summary-continued"] += 1
        else:
            seen["other"] += 1
    return seen


async def a_whole_round_crashing(
    fake: FakeDiscord,
    launch: Launch,
    config: Any,
    monkeypatch: pytest.MonkeyPatch,
    *,
    forget: bool,
) -> str:
    """Open, remind, close: each post reaches Discord, then the process dies before the outbox
    mark; a new process delivers the outbox again. Returns the round's code."""
    round_id = 0
    code = ""
    for kind, step in (
        ("announcement", None),
        ("reminder", Action.REMIND),
        ("summary", Action.CLOSE),
    ):
        app = await launch(config)
        crash_before_marking(monkeypatch, app, kind)
        if forget:
            forget_what_was_sent(monkeypatch, app)
        if step is None:
            info = await app.engine.open_round(DEBATE)
            round_id, code = info.id, info.code
        else:
            assert await app.engine.apply(round_id, step)
        with pytest.raises(Crash):
            await app.publisher.deliver()
        await kill(app)
    last = await launch(config)
    await last.publisher.deliver()
    pending = last.db.read_sync(
        lambda conn: conn.exec_driver_sql("SELECT count(*) FROM outbox WHERE NOT delivered")
    )
    assert pending.scalar_one() == 0
    return code


def assert_each_once(fake: FakeDiscord, code: str) -> None:
    seen = what_members_see(fake, code)
    assert seen["announcement"] == 1, seen
    assert seen["reminder"] == 1, seen
    assert seen["summary"] == 1, seen
    assert seen["other"] == 0, seen
    # Every channel message the bot posted carries a nonce, and no nonce is there twice.
    nonces = [m.get("nonce") for m in fake.channel_messages(CHANNEL_ID)]
    assert None not in nonces
    assert len(nonces) == len(set(nonces))
    for call in fake.channel_posts(CHANNEL_ID):
        assert call.body["enforce_nonce"] is True
        assert len(call.body["nonce"]) <= 25


async def test_outside_discords_nonce_window_the_record_of_sent_posts_holds(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.nonce_window = 0.0  # Discord has forgotten every nonce by the retry
    fake.nonce_visible = 0.0
    config = discord_config(tmp_path / "data")
    code = await a_whole_round_crashing(fake, launch, config, monkeypatch, forget=False)
    assert_each_once(fake, code)


async def test_a_post_the_bot_did_not_record_is_found_by_its_nonce(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.nonce_window = 0.0  # Discord would create a duplicate: the bot must look first
    config = discord_config(tmp_path / "data")
    code = await a_whole_round_crashing(fake, launch, config, monkeypatch, forget=True)
    assert_each_once(fake, code)
    reads = [c for c in fake.calls if c.method == "GET" and c.path.endswith("/messages")]
    assert reads, "a retried delivery reads the channel before posting again"


async def test_within_the_nonce_window_discord_returns_the_first_message(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.nonce_visible = 0.0  # the history shows no nonce: only Discord's own check is left
    config = discord_config(tmp_path / "data")
    code = await a_whole_round_crashing(fake, launch, config, monkeypatch, forget=True)
    assert_each_once(fake, code)
    posted = Counter(c.body["nonce"] for c in fake.channel_posts(CHANNEL_ID))
    assert max(posted.values()) > 1  # the bot did send again; Discord kept one message


async def test_a_first_delivery_reads_nothing_back(
    fake: FakeDiscord, launch: Launch, tmp_path: Path
) -> None:
    """Only a retried delivery looks at the channel: the normal path costs no extra call."""
    app = await launch(discord_config(tmp_path / "data"))
    info = await app.engine.open_round(DEBATE)
    await app.publisher.deliver()
    assert await app.engine.close_round(info.id)
    await app.publisher.deliver()
    assert not [c for c in fake.calls if c.method == "GET" and c.path.endswith("/messages")]
    seen = what_members_see(fake, info.code)
    assert seen["announcement"] == 1 and seen["summary"] == 1
