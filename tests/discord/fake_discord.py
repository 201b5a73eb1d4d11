"""A stand-in for Discord on 127.0.0.1: the REST API the bot calls and the gateway it reads.

discord.py talks to it through its own code: ``Route.BASE`` points the REST calls (the bot's
and the interaction webhooks') here, ``DiscordWebSocket.DEFAULT_GATEWAY`` the gateway. The REST
side records every call (JSON body or multipart ``payload_json`` + files) and answers with
payloads shaped like Discord's; the gateway side says HELLO, answers IDENTIFY with READY and
GUILD_CREATE (one per guild: the bot is in two, ``GUILD_ID`` and ``GUILD_B_ID``, as a bot
serving two communities is), acknowledges heartbeats and lets a test push any dispatch event,
such as the INTERACTION_CREATE of a member clicking a button.

:class:`Member` builds the interactions a member's client would send and :class:`Outcome`
collects what that member then sees.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

APP_ID = 1100000000000000001
DISCORD_EPOCH_MS = 1420070400000  # 2015-01-01, the origin of snowflake timestamps
GUILD_ID = 1200000000000000002
CHANNEL_ID = 1300000000000000003
OTHER_CHANNEL_ID = 1300000000000000004
MODERATOR_ROLE_ID = 1400000000000000005
BOT_ROLE_ID = 1400000000000000006
OWNER_ID = 1500000000000000007
# A second guild the bot is in, with its own channel and its own moderator role.
# Created a millisecond after guild A: with two shards, each guild is on its own shard.
GUILD_B_ID = 1200000000004194316
CHANNEL_B_ID = 1300000000000000013
MODERATOR_ROLE_B_ID = 1400000000000000015
BOT_ROLE_B_ID = 1400000000000000016
OWNER_B_ID = 1500000000000000017

EPHEMERAL = 64
LOADING = 128
# Permission bits (https://discord.com/developers/docs/topics/permissions).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
MEMBER_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY


def now() -> str:
    return datetime.now(UTC).isoformat()


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(user_id),
        "username": name,
        "global_name": name.capitalize(),
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


BOT_USER = user_payload(APP_ID, "debats", bot=True)


def role_payload(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


@dataclass(frozen=True)
class GuildSpec:
    """A guild of the fake: its name, owner, channels (id -> name) and moderator role."""

    id: int
    name: str
    owner_id: int
    channels: dict[int, str]
    moderator_role_id: int
    bot_role_id: int


GUILDS = (
    GuildSpec(
        GUILD_ID,
        "Agora",
        OWNER_ID,
        {CHANNEL_ID: "debats", OTHER_CHANNEL_ID: "general"},
        MODERATOR_ROLE_ID,
        BOT_ROLE_ID,
    ),
    GuildSpec(
        GUILD_B_ID,
        "Voisins",
        OWNER_B_ID,
        {CHANNEL_B_ID: "discussions"},
        MODERATOR_ROLE_B_ID,
        BOT_ROLE_B_ID,
    ),
)


def guild_of_channel(channel_id: int | str) -> int:
    """The guild holding a channel of the fake (guild A for channels it does not list)."""
    for guild in GUILDS:
        if int(channel_id) in guild.channels:
            return guild.id
    return GUILD_ID


def channel_payload(channel_id: int, name: str, guild_id: int | None = None) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id if guild_id is not None else guild_of_channel(channel_id)),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def guild_create(spec: GuildSpec = GUILDS[0]) -> dict[str, Any]:
    """A GUILD_CREATE as the bot receives it with the guilds intent only."""
    return {
        "id": str(spec.id),
        "name": spec.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(spec.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "fr",
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "features": [],
        "roles": [
            role_payload(spec.id, "@everyone", MEMBER_PERMISSIONS, 0),
            role_payload(spec.moderator_role_id, "Modération", MEMBER_PERMISSIONS, 2),
            role_payload(spec.bot_role_id, "debats", BOT_PERMISSIONS, 1),
        ],
        "emojis": [],
        "stickers": [],
        "soundboard_sounds": [],
        "joined_at": now(),
        "large": False,
        "unavailable": False,
        "member_count": 8,
        "voice_states": [],
        "members": [
            {
                "user": BOT_USER,
                "roles": [str(spec.bot_role_id)],
                "joined_at": now(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
                "avatar": None,
                "pending": False,
                "premium_since": None,
                "communication_disabled_until": None,
            }
        ],
        "channels": [
            channel_payload(channel_id, name, spec.id)
            for channel_id, name in spec.channels.items()
        ],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    }


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any  # the JSON body, or the payload_json of a multipart request
    files: list[tuple[str, bytes, str]] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)  # when it arrived

    @property
    def message_body(self) -> dict[str, Any] | None:
        """The message this call creates or edits, if it carries one."""
        if self.method not in ("POST", "PATCH") or not isinstance(self.body, dict):
            return None
        if self.path.endswith("/callback"):
            if self.body.get("type") not in (4, 7):
                return None
            data: dict[str, Any] = self.body.get("data") or {}
            return data
        if "/messages" in self.path or self.path.startswith("/webhooks/"):
            return self.body
        return None


class FakeDiscord:
    """The REST API and the gateway, recorded."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.originals: dict[str, str] = {}  # interaction token -> message id
        self.interaction_messages: dict[str, str] = {}  # token -> message the component is on
        self.forbidden_channels: set[str] = set()  # the bot lacks permissions there
        # Channels Discord knows but leaves out of GUILD_CREATE (the bot must fetch them):
        # channel id -> (guild id, name).
        self.uncached_channels: dict[int, tuple[int, str]] = {}
        self.interactions: list[dict[str, Any]] = []  # every INTERACTION_CREATE sent
        self.interaction_channels: dict[str, str] = {}  # token -> channel it was sent from
        self.token: str | None = None  # the bot token Discord accepts
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.ready = asyncio.Event()
        # Discord keeps a message's nonce for a few minutes: a POST with a nonce it still
        # knows (and ``enforce_nonce``) returns that message instead of creating a new one,
        # and GET .../messages shows the nonce of messages that recent. Tests shorten both.
        self.nonce_window = 300.0
        self.nonce_visible = 300.0
        self.created: dict[str, float] = {}  # message id -> when it was created
        self._ids = itertools.count()
        self._last_id = 0
        self._seq = 0
        self._ws: web.WebSocketResponse | None = None
        # Sharded bots: the connection holding each shard, and each connection's sequence.
        self.shard_count = 1
        self.shards: dict[int, web.WebSocketResponse] = {}
        self._seqs: dict[int, int] = {}
        self._sockets: list[web.WebSocketResponse] = []
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self.server = TestServer(app, host="127.0.0.1")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        for ws in self._sockets:
            await ws.close()
        await self.server.close()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/gateway"

    def snowflake(self) -> str:
        """A new id shaped like Discord's: milliseconds since 2015 in the high bits (so
        ``created_at`` is now, as the bot reads it), a counter below; always increasing."""
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        made = max((now_ms << 22) | (next(self._ids) & 0x3FFFFF), self._last_id + 1)
        self._last_id = made
        return str(made)

    # ------------------------------------------------------------------ waiting

    async def wait_for(
        self, predicate: Callable[[Call], bool], *, after: int = 0, within: float = 10.0
    ) -> Call:
        """The first call from index ``after`` on that matches, waiting for it if need be."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for call in self.calls[after:]:
                if predicate(call):
                    return call
            if loop.time() > deadline:
                seen = "\n".join(f"  {c.method} {c.path}" for c in self.calls[after:])
                raise AssertionError(f"no matching call within {within}s; calls:\n{seen}")
            await asyncio.sleep(0.005)

    async def settle(self, quiet: float = 0.15) -> None:
        """Wait until no new call has arrived for ``quiet`` seconds."""
        count = -1
        while count != len(self.calls):
            count = len(self.calls)
            await asyncio.sleep(quiet)

    def channel_posts(self, channel_id: int = CHANNEL_ID, *, after: int = 0) -> list[Call]:
        path = f"/channels/{channel_id}/messages"
        return [c for c in self.calls[after:] if c.method == "POST" and c.path == path]

    def message_bodies(self, *, after: int = 0) -> list[dict[str, Any]]:
        """Every message the bot sent or edited (channel posts, answers, follow-ups)."""
        return [b for c in self.calls[after:] if (b := c.message_body) is not None]

    def sent_custom_ids(self, *, after: int = 0) -> list[str]:
        """Every custom id the bot sent: in messages, edits, follow-ups and modals."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("custom_id"), str):
                    found.append(node["custom_id"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        for call in self.calls[after:]:
            walk(call.body)
        return found

    def channel_messages(self, channel_id: int = CHANNEL_ID) -> list[dict[str, Any]]:
        """Messages in a channel as Discord stores them now (edits applied), oldest first."""
        return [
            m
            for m in self.messages.values()
            if m["channel_id"] == str(channel_id)
            and not m["flags"] & EPHEMERAL
            and "webhook_id" not in m
        ]

    # ------------------------------------------------------------------ gateway

    def shard_of(self, guild_id: int | str) -> int:
        """The shard Discord gives a guild: ``(guild_id >> 22) % shard_count``."""
        return (int(guild_id) >> 22) % self.shard_count

    async def dispatch(
        self, event: str, data: dict[str, Any], ws: web.WebSocketResponse | None = None
    ) -> None:
        """Send an event on the connection that holds its guild's shard (shard 0 without one)."""
        if ws is None and self.shard_count > 1:
            guild = data.get("guild_id")
            ws = self.shards.get(self.shard_of(guild) if guild else 0)
        ws = ws or self._ws
        assert ws is not None, "the bot is not connected to the gateway"
        key = id(ws)
        self._seqs[key] = self._seqs.get(key, 0) + 1
        self._seq = self._seqs[key]
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def reconnect(self) -> None:
        """Ask the bot to reconnect (op 7), as Discord does when it moves a session."""
        assert self._ws is not None
        self.ready.clear()
        await self._ws.send_str(json.dumps({"op": 7, "d": None, "s": None, "t": None}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                self.identifies.append(payload["d"])
                shard, count = payload["d"].get("shard") or (0, 1)
                self.shard_count = count
                self.shards[shard] = ws
                self._ws = ws
                self._seqs[id(ws)] = 0
                held = [g for g in GUILDS if self.shard_of(g.id) == shard]
                sharded = "shard" in payload["d"]
                await self.dispatch("READY", self._ready_payload(shard, held, sharded), ws)
                for spec in held:
                    await self.dispatch("GUILD_CREATE", guild_create(spec), ws)
                self.ready.set()
            elif op == 6:
                self.resumes.append(payload["d"])
                self._ws = ws
                await self.dispatch("RESUMED", {}, ws)
                self.ready.set()
        return ws

    def _ready_payload(
        self, shard: int = 0, guilds: Iterable[GuildSpec] = GUILDS, sharded: bool = False
    ) -> dict[str, Any]:
        shards = {"shard": [shard, self.shard_count]} if sharded else {}
        return {
            **shards,
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": ["rotterdam"],
            "guild_join_requests": [],
            "user_settings": {},
            "auth_session_id_hash": "",
        }

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.Response:
        body: Any = None
        files: list[tuple[str, bytes, str]] = []
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            form = await request.post()
            for name, value in form.items():
                if name == "payload_json":
                    body = json.loads(str(value))
                elif isinstance(value, web.FileField):
                    files.append((value.filename, value.file.read(), value.content_type))
        path = request.path.removeprefix("/api/v10")
        call = Call(request.method, path, dict(request.query), body, files)
        authorised = request.headers.get("Authorization") == f"Bot {self.token}"
        if path.startswith(("/interactions/", "/webhooks/")) or authorised:
            status, payload = self._route(call)  # interaction tokens need no bot token
        else:
            status, payload = 401, {"message": "401: Unauthorized", "code": 0}
        self.calls.append(call)
        if payload is None:
            return web.Response(status=status)
        # discord.py decodes JSON only when the Content-Type is exactly application/json.
        return web.Response(
            status=status,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )

    def _route(self, call: Call) -> tuple[int, Any]:
        m, p = call.method, call.path
        if m == "GET" and p == "/users/@me":
            return 200, BOT_USER
        if m == "GET" and p == "/oauth2/applications/@me":
            return 200, self._application()
        found = re.fullmatch(rf"/applications/{APP_ID}(?:/guilds/(\d+))?/commands", p)
        if m == "PUT" and found:
            guild = int(found.group(1)) if found.group(1) else None
            return 200, self._register_commands(guild, call.body)
        found = re.fullmatch(r"/channels/(\d+)", p)
        if m == "GET" and found:
            return self._channel(int(found.group(1)))
        found = re.match(r"/channels/(\d+)/", p)
        if found and found.group(1) in self.forbidden_channels:
            return 403, {"message": "Missing Permissions", "code": 50013}
        found = re.fullmatch(r"/channels/(\d+)/messages", p)
        if m == "POST" and found:
            return 200, self._new_message(found.group(1), call)
        if m == "GET" and found:
            return 200, self._history(found.group(1), call.query)
        found = re.fullmatch(r"/channels/(\d+)/messages/(\d+)", p)
        if m == "PATCH" and found:
            if found.group(2) not in self.messages:
                return 404, {"message": "Unknown Message", "code": 10008}
            return 200, self._edit_message(found.group(2), call)
        found = re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", p)
        if m == "POST" and found:
            return 200, self._callback(found.group(1), found.group(2), call)
        found = re.fullmatch(rf"/webhooks/{APP_ID}/([^/]+)/messages/@original", p)
        if m == "PATCH" and found:
            message_id = self.originals.get(found.group(1))
            if message_id is None:
                return 404, {"message": "Unknown Message", "code": 10008}
            return 200, self._edit_message(message_id, call)
        found = re.fullmatch(rf"/webhooks/{APP_ID}/([^/]+)", p)
        if m == "POST" and found:
            flags = int((call.body or {}).get("flags", 0))
            channel = self.interaction_channels.get(found.group(1), str(CHANNEL_ID))
            return 200, self._new_message(channel, call, flags=flags, webhook=True)
        return 404, {"message": "404: Not Found", "code": 0}

    def _channel(self, channel_id: int) -> tuple[int, Any]:
        """``GET /channels/{id}``: the channels of the guilds, and the uncached ones."""
        if channel_id in self.uncached_channels:
            guild_id, name = self.uncached_channels[channel_id]
            return 200, channel_payload(channel_id, name, guild_id)
        for spec in GUILDS:
            if channel_id in spec.channels:
                return 200, channel_payload(channel_id, spec.channels[channel_id], spec.id)
        return 404, {"message": "Unknown Channel", "code": 10003}

    def _application(self) -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "Débats",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": user_payload(OWNER_ID, "organisatrice"),
            "team": None,
            "flags": 0,
            "tags": [],
            "install_params": None,
            "custom_install_url": None,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "rpc_origins": [],
            "approximate_guild_count": len(GUILDS),
            "bot": BOT_USER,
            "integration_types_config": {"0": {}},
        }

    def _register_commands(self, guild: int | None, body: list[dict[str, Any]]) -> Any:
        registered = []
        for command in body:
            data = dict(command)
            data.update(
                id=self.snowflake(),
                application_id=str(APP_ID),
                version=self.snowflake(),
                type=command.get("type", 1),
            )
            if guild is not None:
                data["guild_id"] = str(guild)
            registered.append(data)
        self.commands[guild] = registered
        return registered

    def _attachments(self, channel_id: str, call: Call) -> list[dict[str, Any]]:
        out = []
        for filename, data, content_type in call.files:
            attachment_id = self.snowflake()
            url = f"https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{filename}"
            out.append(
                {
                    "id": attachment_id,
                    "filename": filename,
                    "size": len(data),
                    "url": url,
                    "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                    "content_type": content_type,
                }
            )
        return out

    def _history(self, channel_id: str, query: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /channels/{id}/messages``: the latest messages, newest first, with the nonce
        of those recent enough (Discord does not keep nonces long)."""
        limit = min(100, int(query.get("limit", "50")))
        before = int(query["before"]) if "before" in query else None
        found = []
        for message in reversed(list(self.messages.values())):
            if message["channel_id"] != channel_id or message["flags"] & EPHEMERAL:
                continue
            if before is not None and int(message["id"]) >= before:
                continue
            shown = {k: v for k, v in message.items() if k != "nonce"}
            age = time.monotonic() - self.created.get(message["id"], 0.0)
            if "nonce" in message and age <= self.nonce_visible:
                shown["nonce"] = message["nonce"]
            found.append(shown)
            if len(found) == limit:
                break
        return found

    def _same_nonce(self, channel_id: str, nonce: Any) -> dict[str, Any] | None:
        """The bot's message in this channel with ``nonce``, if Discord still knows it."""
        for message in reversed(list(self.messages.values())):
            age = time.monotonic() - self.created.get(message["id"], 0.0)
            if age > self.nonce_window:
                return None
            if message["channel_id"] == channel_id and message.get("nonce") == nonce:
                found: dict[str, Any] = message
                return found
        return None

    def _new_message(
        self, channel_id: str, call: Call, *, flags: int = 0, webhook: bool = False
    ) -> dict[str, Any]:
        body = call.body if isinstance(call.body, dict) else {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            existing = self._same_nonce(channel_id, nonce)
            if existing is not None:
                return existing
        message_id = self.snowflake()
        message: dict[str, Any] = {
            "id": message_id,
            "channel_id": channel_id,
            "guild_id": str(guild_of_channel(channel_id)),
            "author": BOT_USER,
            "content": body.get("content") or "",
            "timestamp": now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(channel_id, call),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": flags | int(body.get("flags", 0)),
        }
        if webhook:
            message["webhook_id"] = str(APP_ID)
            message["application_id"] = str(APP_ID)
        reference = body.get("message_reference")
        if reference:
            message["type"] = 19
            message["message_reference"] = reference
        if nonce is not None:
            message["nonce"] = nonce
        self.messages[message_id] = message
        self.created[message_id] = time.monotonic()
        return message

    def _edit_message(self, message_id: str, call: Call) -> dict[str, Any]:
        message = self.messages[message_id]
        body = call.body if isinstance(call.body, dict) else {}
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        if "attachments" in body:
            kept = {str(a.get("id")) for a in body["attachments"]}
            message["attachments"] = [
                a for a in message["attachments"] if a["id"] in kept
            ] + self._attachments(message["channel_id"], call)
        message["flags"] = message["flags"] & ~LOADING
        message["edited_timestamp"] = now()
        return message

    def _callback(self, interaction_id: str, token: str, call: Call) -> dict[str, Any]:
        body = call.body if isinstance(call.body, dict) else {}
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        flags = int(data.get("flags", 0))
        interaction: dict[str, Any] = {
            "id": interaction_id,
            "type": 2,
            "activity_instance_id": None,
            "response_message_id": None,
            "response_message_loading": False,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):
            sub = Call(call.method, call.path, call.query, data, call.files)
            channel = self.interaction_channels.get(token, str(CHANNEL_ID))
            message = self._new_message(channel, sub, flags=flags, webhook=True)
            if kind == 5:
                message["flags"] |= LOADING
                interaction["response_message_loading"] = True
            self.originals[token] = message["id"]
            interaction["response_message_id"] = message["id"]
            resource["message"] = message
        elif kind in (6, 7):
            message_id = self.interaction_messages.get(token)
            if message_id is not None:
                self.originals[token] = message_id
                if kind == 7:
                    sub = Call(call.method, call.path, call.query, data, call.files)
                    resource["message"] = self._edit_message(message_id, sub)
                interaction["response_message_id"] = message_id
        return {"interaction": interaction, "resource": resource}


# ---------------------------------------------------------------------------------- members


@dataclass
class Outcome:
    """What a member sees after an interaction: the response and what replaced it."""

    response_type: int
    ephemeral: bool
    callback: Call
    final: dict[str, Any]  # the message body shown last (after a defer: the edit)
    message_id: str | None
    followups: list[Call]
    edits: list[Call]

    @property
    def content(self) -> str:
        return str(self.final.get("content") or "")

    @property
    def text(self) -> str:
        """Content, embed texts and follow-ups together, for assertions on what is read."""
        parts = [self.content]
        for embed in self.final.get("embeds") or []:
            parts.extend(str(embed.get(k) or "") for k in ("title", "description"))
            parts.extend(f"{f['name']} {f['value']}" for f in embed.get("fields") or [])
        parts.extend(str((c.body or {}).get("content") or "") for c in self.followups)
        return "\n".join(p for p in parts if p)

    @property
    def custom_ids(self) -> list[str]:
        return custom_ids(self.final.get("components") or [])

    @property
    def modal(self) -> dict[str, Any]:
        assert self.response_type == 9, f"not a modal but a type {self.response_type} response"
        data: dict[str, Any] = self.callback.body["data"]
        return data


def custom_ids(components: list[dict[str, Any]]) -> list[str]:
    out = []
    for component in components:
        if "custom_id" in component:
            out.append(component["custom_id"])
        out.extend(custom_ids(component.get("components") or []))
        if "component" in component:
            out.extend(custom_ids([component["component"]]))
    return out


def find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        found = find_component(
            list(component.get("components") or [])
            + ([component["component"]] if "component" in component else []),
            custom_id,
        )
        if found is not None:
            return found
    return None


def interaction_token(interaction_id: str) -> str:
    """A token shaped like Discord's: base64 of the interaction id and a long secret."""
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(96)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Member:
    """A member of one guild (guild A unless told) whose client sends interactions."""

    def __init__(
        self,
        fake: FakeDiscord,
        name: str,
        *,
        roles: tuple[int, ...] = (),
        permissions: int = MEMBER_PERMISSIONS,
        locale: str = "fr",
        guild_id: int = GUILD_ID,
    ) -> None:
        self.fake = fake
        self.name = name
        self.id = int(fake.snowflake())
        self.roles = roles
        self.permissions = permissions
        self.locale = locale
        self.guild_id = guild_id
        spec = next(g for g in GUILDS if g.id == guild_id)
        self.channel_id = next(iter(spec.channels))  # where the member types by default

    @property
    def display_name(self) -> str:
        return str(user_payload(self.id, self.name)["global_name"])

    def payload(self) -> dict[str, Any]:
        return {
            "user": user_payload(self.id, self.name),
            "roles": [str(r) for r in self.roles],
            "permissions": str(self.permissions),
            "joined_at": now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "banner": None,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        interaction_id = self.fake.snowflake()
        channel_id = self.channel_id if channel_id is None else channel_id
        guild = str(self.guild_id)
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "guild_id": guild,
            "guild": {"id": guild, "locale": "fr", "features": []},
            "channel_id": str(channel_id),
            "channel": channel_payload(channel_id, "debats", self.guild_id),
            "member": self.payload(),
            "token": interaction_token(interaction_id),
            "version": 1,
            "app_permissions": str(BOT_PERMISSIONS),
            "locale": self.locale,
            "guild_locale": "fr",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
            self.fake.interaction_messages[payload["token"]] = message["id"]
        self.fake.interaction_channels[payload["token"]] = str(channel_id)
        return payload

    async def _send(self, payload: dict[str, Any], *, expect_edit: bool = True) -> Outcome:
        start = len(self.fake.calls)
        callback_path = f"/interactions/{payload['id']}/{payload['token']}/callback"
        self.fake.interactions.append(payload)
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        callback = await self.fake.wait_for(lambda c: c.path == callback_path, after=start)
        kind = int(callback.body["type"])
        final: dict[str, Any] = dict(callback.body.get("data") or {})
        webhook = f"/webhooks/{APP_ID}/{payload['token']}"
        if kind in (5, 6) and expect_edit:
            await self.fake.wait_for(
                lambda c: c.method == "PATCH" and c.path == webhook + "/messages/@original",
                after=start,
            )
        await self.fake.settle(0.05)
        edits = [
            c
            for c in self.fake.calls[start:]
            if c.method == "PATCH" and c.path == webhook + "/messages/@original"
        ]
        followups = [
            c for c in self.fake.calls[start:] if c.method == "POST" and c.path == webhook
        ]
        if edits:
            final = dict(edits[-1].body)
        message_id = self.fake.originals.get(payload["token"])
        flags = int((callback.body.get("data") or {}).get("flags", 0))
        if kind in (6, 7) and message_id is not None:
            flags = int(self.fake.messages[message_id]["flags"])
        ephemeral = bool(flags & EPHEMERAL)
        return Outcome(kind, ephemeral, callback, final, message_id, followups, edits)

    def _root_command(self) -> dict[str, Any]:
        """``/debat`` as this member's client knows it: the guild's commands, else the global
        ones (with the command's ``guild_id`` only for a guild command, as Discord sends it)."""
        commands = self.fake.commands.get(self.guild_id) or self.fake.commands.get(None) or []
        found = [c for c in commands if c["name"] == "debat"]
        assert found, f"/debat is not registered for guild {self.guild_id}"
        return found[0]

    def _command_data(self, root: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {"id": root["id"], "name": "debat", "type": 1}
        if "guild_id" in root:
            data["guild_id"] = root["guild_id"]
        return data

    async def slash(self, subcommand: str, **options: Any) -> Outcome:
        """``/debat <subcommand> option:value…`` (default, French, option names)."""
        root = self._root_command()
        sub = next(o for o in root["options"] if o["name"] == subcommand)
        declared = {o["name"]: o for o in sub.get("options") or []}
        data = {
            **self._command_data(root),
            "options": [
                {
                    "type": 1,
                    "name": subcommand,
                    "options": [
                        {"type": declared[name]["type"], "name": name, "value": value}
                        for name, value in options.items()
                    ],
                }
            ],
        }
        return await self._send(self._interaction(2, data))

    async def autocomplete(self, subcommand: str, focused: str, **options: Any) -> list[Any]:
        data = {
            **self._command_data(self._root_command()),
            "options": [
                {
                    "type": 1,
                    "name": subcommand,
                    "options": [
                        {"type": 3, "name": name, "value": value, "focused": name == focused}
                        for name, value in options.items()
                    ],
                }
            ],
        }
        outcome = await self._send(self._interaction(4, data), expect_edit=False)
        assert outcome.response_type == 8
        choices: list[Any] = outcome.callback.body["data"]["choices"]
        return choices

    async def click(
        self, message: dict[str, Any], custom_id: str, *, values: list[str] | None = None
    ) -> Outcome:
        """Click a button (or pick in a select menu) of ``message`` as Discord stores it."""
        component = find_component(message.get("components") or [], custom_id)
        assert component is not None, f"{custom_id} is not on the message"
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = values
        return await self._send(self._interaction(3, data, message=message))

    async def submit(
        self,
        modal: dict[str, Any],
        values: dict[str, str],
        *,
        message: dict[str, Any] | None = None,
    ) -> Outcome:
        """Fill in and submit a modal the bot opened (Label-wrapped text inputs)."""
        components = []
        for index, (custom_id, value) in enumerate(values.items()):
            components.append(
                {
                    "type": 18,
                    "id": 2 * index + 1,
                    "component": {
                        "type": 4,
                        "id": 2 * index + 2,
                        "custom_id": custom_id,
                        "value": value,
                    },
                }
            )
        data = {"custom_id": modal["custom_id"], "components": components}
        return await self._send(self._interaction(5, data, message=message))
