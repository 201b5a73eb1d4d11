"""Matrix adapter pieces that need no homeserver: content, replay memory, rules, rate limits."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nio
import nio.store
import pytest
import vodozemac
from aiohttp import web
from conftest import bot_config

from bot.adapters.matrix import (
    CONTENT_BUDGET,
    MAX_EVENT_BYTES,
    CleanupState,
    MatrixAdapter,
    SeenEvents,
    _Client,
    _Creators,
    _Invite,
    _safe,
    _strip_reply_fallback,
    message_contents,
)
from bot.config import Config, MatrixConfig
from bot.i18n import Messages
from bot.platforms import AdapterContext
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
    return MatrixAdapter(_context(config))


def _context(config: Config) -> AdapterContext[MatrixConfig]:
    """What the adapter is built from, with no engine behind it (no round is open)."""
    # These tests send no command and open no round: nothing behind the commands.
    return AdapterContext(
        settings=config.platforms.of(MatrixConfig),
        commands=None,  # type: ignore[arg-type]
        cases=None,  # type: ignore[arg-type]
        rounds=SimpleNamespace(open_rounds=lambda: []),
        messages=Messages(config.language),
        data_dir=config.data_dir,
        debates=lambda: config.debates,
    )


async def test_invites_follow_allowed_rooms(tmp_path: Path) -> None:
    adapter = _adapter(
        tmp_path, allowed_rooms=["!abc:example.org", "#debats:example.org", ":trusted.org"]
    )
    adapter.rooms.aliases["#debats:example.org"] = "!resolved"

    async def allowed(
        room_id: str, inviter: str = "@x:else.org", alias: str | None = None
    ) -> bool:
        return await adapter.rooms.invite_allowed(_Invite(room_id, inviter, False, alias))

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
    adapter.rooms.creators["!r"] = _Creators("12", frozenset({"@creator:example.org"}))
    assert await adapter.is_moderator(room, "@admin:example.org")
    assert await adapter.is_moderator(room, "@helper:example.org")
    assert await adapter.is_moderator(room, "@creator:example.org")
    assert not await adapter.is_moderator(room, "@member:example.org")
    # Before version 12 the creator has only the power the power levels give.
    adapter.rooms.creators["!r"] = _Creators("11", frozenset({"@creator:example.org"}))
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
    assert adapter.sync.actionable_start("!room", timeline) == 4
    adapter.rooms.direct_invites.add("!dm")
    assert adapter.sync.actionable_start("!dm", timeline) == 2
    assert adapter.sync.actionable_start("!room", ["a", "b"]) == 0


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


# ---------------------------------------------------------------------------------- forgetting


def test_cleanup_state_is_once_per_round_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "dm_cleanup.json"
    state = CleanupState(path, done_limit=2)
    assert state.schedule(7, 1_000)
    assert not state.schedule(7, 1_000), "already owed"
    again = CleanupState(path, done_limit=2)
    assert again.pending == {7: 1_000}, "a sweep owed at a stop is resumed at the next start"
    again.finish([7])
    assert not again.schedule(7, 1_000), "already done"
    for round_id in (8, 9):
        assert again.schedule(round_id, 2_000)
    again.finish([8, 9])
    reloaded = CleanupState(path, done_limit=2)
    assert reloaded.pending == {} and reloaded.done == [8, 9]
    assert path.stat().st_mode & 0o777 == 0o600
    # Round ids and times only.
    assert set(json.loads(path.read_text())) == {"pending", "done"}


def test_log_text_has_no_token_and_no_identifier() -> None:
    text = (
        "403, url='http://127.0.0.1:8008/_matrix/client/v3/sync?since=s1&access_token=syt_c2hvcnQ_x'"
        " User @alice:example.org not in room !AbCdEfGhIjKlMnOp:example.org"
        " ($AbCdEfGhIjKlMnOpQrSt)"
    )
    safe = _safe(text)
    assert "syt_" not in safe and "access_token=<token>" in safe
    assert "@alice" not in safe and "!AbCd" not in safe and "$AbCd" not in safe


def _megolm_event(
    outbound: vodozemac.GroupSession, sender_key: str, room_id: str, n: int
) -> nio.MegolmEvent:
    content = {"msgtype": "m.text", "body": f"m{n}"}
    payload = {"type": "m.room.message", "room_id": room_id, "content": content}
    ciphertext = outbound.encrypt(json.dumps(payload).encode()).to_base64()
    event = nio.MegolmEvent.from_dict(
        {
            "type": "m.room.encrypted",
            "event_id": f"$event{n}",
            "sender": "@alice:example.org",
            "origin_server_ts": n,
            "content": {
                "algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": ciphertext,
                "sender_key": sender_key,
                "session_id": outbound.session_id,
                "device_id": "ALICEDEV",
            },
        }
    )
    event.room_id = room_id
    return event


async def test_ratchet_forgets_what_was_read_and_keeps_what_comes(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path)
    adapter.store_dir.mkdir(parents=True)
    client = _Client(
        "http://127.0.0.1:1",
        "@bot:example.org",
        config=nio.AsyncClientConfig(store=nio.store.SqliteMemoryStore, encryption_enabled=True),
    )
    client.restore_login("@bot:example.org", "BOTDEV", "token")
    adapter.client = client
    olm = client.olm
    alice = vodozemac.Account()  # the member's device
    sender_key, signing = alice.curve25519_key.to_base64(), alice.ed25519_key.to_base64()
    read, shared_ahead = vodozemac.GroupSession(), vodozemac.GroupSession()
    for outbound in (read, shared_ahead):
        olm.create_group_session(
            sender_key, signing, "!dm", outbound.session_id, outbound.session_key.to_base64()
        )
    olm.create_outbound_group_session("!dm")  # the bot's own, with its inbound copy
    own_id = olm.outbound_group_sessions["!dm"].id
    events = [_megolm_event(read, sender_key, "!dm", n) for n in range(3)]
    for event in events[:2]:
        assert client.decrypt_event(event).body.startswith("m")  # read through nio's own path
    assert client.read_indexes == {read.session_id: 1}

    ratcheted, dropped = await adapter.forgetting.ratchet_sessions(set(), {})
    assert (ratcheted, dropped) == (1, 1)
    assert "!dm" not in olm.outbound_group_sessions, "the bot's next answer starts a session"
    # Persisted: session id -> highest index read, nothing else.
    saved = json.loads((adapter.store_dir / "megolm_read_index.json").read_text())
    assert saved == {read.session_id: 1}
    # What was read no longer decrypts; the member's next message, in the same session, does.
    with pytest.raises(nio.EncryptionError):
        client.decrypt_event(events[0])
    assert client.decrypt_event(events[2]).body == "m2"
    # The unknown one (a key shared ahead of a message) is kept whole.
    assert olm.inbound_group_store.get("!dm", sender_key, shared_ahead.session_id) is not None
    # The store itself holds the ratcheted session, not the old one, and not the bot's own.
    stored = {s.id: s.first_known_index for s in client.store.load_inbound_group_sessions()}
    assert stored == {read.session_id: 2, shared_ahead.session_id: 0}
    assert own_id not in stored


# ---------------------------------------------------------------------------------- identity


def test_cross_signing_keys_are_kept_encrypted_with_the_pickle_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from signedjson.key import decode_verify_key_base64
    from signedjson.sign import verify_signed_json

    from bot.adapters.matrix.crosssigning import CrossSigningKeys, KeyFile

    keys = CrossSigningKeys.generate("@bot:example.org")
    path = tmp_path / "matrix" / "cross_signing.key"
    KeyFile(path, "pickle-key-one").save(keys)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not any(seed.encode() in path.read_bytes() for seed in keys.seeds.values())
    assert KeyFile(path, "pickle-key-one").load() == keys
    assert KeyFile(path, "another-pickle-key").load() is None
    assert "pickle_key" in caplog.text
    # The uploaded subkeys are signed by the master key, over canonical JSON.
    body = keys.upload_body()
    master = keys.public("master")
    assert body["master_key"]["keys"] == {f"ed25519:{master}": master}
    for name in ("self_signing_key", "user_signing_key"):
        verify_signed_json(
            body[name], "@bot:example.org", decode_verify_key_base64("ed25519", master, master)
        )


def test_run_reset_cross_signing_reaches_the_matrix_adapter(tmp_path: Path) -> None:
    from bot.adapters.matrix import with_cross_signing_reset
    from bot.cli import build_parser

    assert build_parser().parse_args(["run", "--reset-cross-signing"]).reset_cross_signing
    assert not build_parser().parse_args(["run"]).reset_cross_signing
    config = bot_config(tmp_path, "http://127.0.0.1:1", "@bot:example.org", "!cfg:example.org")
    adapter = with_cross_signing_reset(config)["matrix"](_context(config))
    assert isinstance(adapter, MatrixAdapter) and adapter.cross_signing.reset
    assert not _adapter(tmp_path).cross_signing.reset
