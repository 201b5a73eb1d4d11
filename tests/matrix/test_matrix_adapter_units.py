"""Matrix adapter pieces that need no homeserver: content, replay memory, rules, rate limits."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nio
import pytest
from aiohttp import web
from conftest import bot_config

from bot.adapters.matrix import (
    CONTENT_BUDGET,
    MAX_EVENT_BYTES,
    MatrixAdapter,
    SeenEvents,
    _Client,
    _Creators,
    _Invite,
    _strip_reply_fallback,
    message_contents,
)
from bot.render import markdown_to_html
from bot.text import escape_markdown

# ---------------------------------------------------------------------------------- content


def test_short_message_is_one_notice_that_mentions_nobody() -> None:
    text = "**Tour ABCDE** : " + escape_markdown("<script>@room</script>")
    [content] = message_contents(text, markdown_to_html(text))
    assert content["msgtype"] == "m.notice"
    assert content["m.mentions"] == {}
    assert content["format"] == "org.matrix.custom.html"
    assert "<strong>Tour ABCDE</strong>" in content["formatted_body"]
    assert "&lt;script&gt;" in content["formatted_body"]
    assert "<script>" in content["body"]  # plain text shows what the member typed
    assert "@room" not in content["body"] and "@room" not in content["formatted_body"]


def test_long_content_is_split_under_the_event_limit() -> None:
    argument = escape_markdown("<&> «éà» 🗳️ " * 40)
    text = "\n\n".join(f"• n° {n} {argument}" for n in range(400))
    contents = message_contents(text)
    assert len(contents) > 1
    for content in contents:
        size = len(json.dumps(content, ensure_ascii=False).encode())
        assert size <= CONTENT_BUDGET
        # Encrypted, the content becomes base64 inside a JSON envelope: still well under.
        assert size * 4 / 3 + 2_000 < MAX_EVENT_BYTES
        assert content["m.mentions"] == {}
    bodies = "".join(c["body"] for c in contents)
    assert bodies.count("n° ") == 400


def test_reply_fallback_is_dropped() -> None:
    body = "> <@alice:example.org> !voter\n> plus\n\n!position pour"
    assert _strip_reply_fallback(body) == "!position pour"
    assert _strip_reply_fallback("!position pour") == "!position pour"


# ---------------------------------------------------------------------------------- replays


def test_seen_events_survive_a_restart_and_stay_bounded(tmp_path: Path) -> None:
    path = tmp_path / "seen_events"
    seen = SeenEvents(path, limit=3)
    assert seen.add("$a")
    assert not seen.add("$a")
    for event_id in ("$b", "$c", "$d", "$e", "$f", "$g"):
        assert seen.add(event_id)
    again = SeenEvents(path, limit=3)
    assert "$g" in again and "$e" in again
    assert "$a" not in again
    assert len(path.read_text().split()) <= 6
    assert path.stat().st_mode & 0o777 == 0o600
    # Event ids only: nothing that names a user or a room.
    assert all(line.startswith("$") for line in path.read_text().split())


# ---------------------------------------------------------------------------------- rules


def _adapter(tmp_path: Path, **matrix: Any) -> MatrixAdapter:
    config = bot_config(
        tmp_path, "http://127.0.0.1:1", "@bot:example.org", "!cfg:example.org", **matrix
    )
    app = SimpleNamespace(
        config=config, engine=SimpleNamespace(open_rounds=lambda: []), commands=None
    )
    return MatrixAdapter(app)  # type: ignore[arg-type]


async def test_invites_follow_allowed_rooms(tmp_path: Path) -> None:
    adapter = _adapter(
        tmp_path, allowed_rooms=["!abc:example.org", "#debats:example.org", ":trusted.org"]
    )
    adapter._aliases["#debats:example.org"] = "!resolved"

    async def allowed(
        room_id: str, inviter: str = "@x:else.org", alias: str | None = None
    ) -> bool:
        return await adapter._invite_allowed(_Invite(room_id, inviter, False, alias))

    assert await allowed("!abc:example.org")
    assert await allowed("!resolved")
    assert await allowed("!other", alias="#debats:example.org")
    assert await allowed("!cfg:example.org"), "a room the debates post to"
    assert await allowed("!opaqueV12id", inviter="@mod:trusted.org")
    assert await allowed("!old:trusted.org")
    assert not await allowed("!opaqueV12id")
    assert not await allowed("!x:evil-trusted.org", inviter="@a:evil-trusted.org")


async def test_creators_of_v12_rooms_are_moderators(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path, moderator_power_level=50)
    room = nio.MatrixRoom("!r", "@bot:example.org")
    room.power_levels.users = {"@admin:example.org": 100, "@helper:example.org": 50}
    adapter._creators["!r"] = _Creators("12", frozenset({"@creator:example.org"}))
    assert await adapter.is_moderator(room, "@admin:example.org")
    assert await adapter.is_moderator(room, "@helper:example.org")
    assert await adapter.is_moderator(room, "@creator:example.org")
    assert not await adapter.is_moderator(room, "@member:example.org")
    # Before version 12 the creator has only the power the power levels give.
    adapter._creators["!r"] = _Creators("11", frozenset({"@creator:example.org"}))
    assert not await adapter.is_moderator(room, "@creator:example.org")


@pytest.mark.parametrize(
    ("version", "privileged"),
    [("1", False), ("11", False), ("12", True), ("13", True), ("org.matrix.hydra.11", True)],
)
def test_room_versions_with_privileged_creators(version: str, privileged: bool) -> None:
    assert _Creators(version, frozenset()).privileged is privileged


def _member(user: str, membership: str, prev: str | None = None) -> Any:
    event: dict[str, Any] = {
        "type": "m.room.member",
        "event_id": f"${user}{membership}",
        "sender": user,
        "state_key": user,
        "origin_server_ts": 1,
        "content": {"membership": membership},
    }
    if prev:
        event["unsigned"] = {"prev_content": {"membership": prev}}
    return nio.RoomMemberEvent.from_dict(event)


def test_history_before_the_bot_arrived_is_not_acted_on(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path)
    me = "@bot:example.org"
    adapter.client = _Client("http://127.0.0.1:1", me)
    adapter.client.user_id = me
    timeline = ["old", _member(me, "invite"), "after invite", _member(me, "join", "invite"), "new"]
    assert adapter._actionable_start("!room", timeline) == 4
    adapter._direct_invites.add("!dm")
    assert adapter._actionable_start("!dm", timeline) == 2
    assert adapter._actionable_start("!room", ["a", "b"]) == 0


# ---------------------------------------------------------------------------------- 429


async def _server(retry_after_ms: int, limited: int) -> tuple[web.AppRunner, str, list[float]]:
    hits: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(time.monotonic())
        if len(hits) <= limited:
            return web.json_response(
                {
                    "errcode": "M_LIMIT_EXCEEDED",
                    "error": "Too many",
                    "retry_after_ms": retry_after_ms,
                },
                status=429,
            )
        return web.json_response({"user_id": "@bot:example.org", "device_id": "DEVICE"})

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}", hits


def _client(url: str, bound: float) -> _Client:
    client = _Client(
        url,
        "@bot:example.org",
        config=nio.AsyncClientConfig(max_limit_exceeded=0, encryption_enabled=False),
    )
    client.access_token = "token"
    client.max_rate_limit_wait = bound
    return client


async def test_rate_limit_is_waited_out_within_the_bound() -> None:
    runner, url, hits = await _server(retry_after_ms=150, limited=2)
    client = _client(url, bound=5)
    try:
        started = time.monotonic()
        response = await client.whoami()
        assert isinstance(response, nio.WhoamiResponse)
        assert len(hits) == 3
        assert time.monotonic() - started >= 0.3
    finally:
        await client.close()
        await runner.cleanup()


async def test_rate_limit_beyond_the_bound_fails_at_once() -> None:
    runner, url, hits = await _server(retry_after_ms=600_000, limited=100)
    client = _client(url, bound=2)
    try:
        started = time.monotonic()
        response = await client.whoami()
        assert isinstance(response, nio.ErrorResponse)
        assert response.status_code == "M_LIMIT_EXCEEDED"
        assert len(hits) == 1
        assert time.monotonic() - started < 2
    finally:
        await client.close()
        await runner.cleanup()
