"""The Discord adapter: the bot's posts as embeds and buttons, members' answers as interactions.

:class:`DiscordAdapter` is the :class:`~bot.ports.ChatPort` for Discord. It owns a
:class:`DebateBot` (a :class:`discord.ext.commands.Bot`) that loads the extensions in ``cogs/``
(the ``/debat`` commands and the persistent buttons) and syncs the application commands once, in
``setup_hook``. The bot asks for no privileged intent and never receives ordinary messages:
members act through slash commands, buttons and modals only, and every answer to a member is
ephemeral.

Rendering rules shared with the cogs live here: Discord's size limits, escaping member text,
answering an interaction privately, telling moderators apart.

Moderator rights are decided in the guild that holds a round's channel
(:meth:`DiscordAdapter.moderates_in`): the interaction must come from that guild and the caller
must have Manage Server, Administrator or one of ``moderator_role_ids`` there. Being a moderator
of another guild that also has the bot gives no right over the round, whether commands are
global or per guild.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot import logs
from bot.engine import EngineError
from bot.events import Attachment, ChannelRef, PostKind, RoundPost
from bot.i18n import CATALOGUES
from bot.outage import as_answer, settles_within
from bot.text import escape_markdown, split_text
from bot.usecases import Actor

if TYPE_CHECKING:
    from bot.config import DiscordConfig
    from bot.platforms import AdapterContext
    from bot.postrefs import PostRefs

log = logging.getLogger(__name__)

PLATFORM = "discord"
EXTENSIONS = ("cogs.debate", "cogs.moderation")
# Where an older bot kept its message ids (moved into the database at start).
ANNOUNCEMENTS_FILE = "discord-announcements.json"
SENT_FILE = "discord-posts.json"
# Discord accepts nonces of up to 25 characters and, with ``enforce_nonce``, returns the
# message it already created with the same nonce in the past few minutes instead of a new one.
NONCE_LENGTH = 25
# How many of a channel's latest messages a retried delivery reads to find its own.
RECENT_MESSAGES = 100

# Discord's limits (https://discord.com/developers/docs/resources/message).
MESSAGE_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
CONTEXT_EXCERPT = 900
# A summary longer than this many messages is cut: the full text is one export away.
SUMMARY_MESSAGES_MAX = 3
COLOUR = discord.Colour(0x4C72B0)
# How long a moderator check may wait for Discord to say which guild holds a channel.
GUILD_LOOKUP_S = 2.0
# Set on the client as the default, and passed explicitly where discord.py would otherwise
# leave it out (edits of the bot's own messages).
NO_MENTIONS = discord.AllowedMentions.none()
UTC = ZoneInfo("UTC")


# What the bot needs in the channels it posts to (docs/discord.md says why, one by one).
BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)
SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int) -> str:
    """The link that adds the bot to a server with its scopes and permissions."""
    return discord.utils.oauth_url(application_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)


class DiscordConfigError(RuntimeError):
    """The Discord adapter cannot start with this configuration or environment."""


# ---------------------------------------------------------------------------------- texts

# Every sentence comes from the catalogues of ``bot.i18n``: the adapter's own under
# ``discord_<key>`` (:meth:`DiscordAdapter.texts`), the application commands' names and
# descriptions under ``command_…``, ``option_…`` and ``choice_…`` (French by default, English
# for English-speaking clients). ``tests/discord`` checks that every localisable string the
# cogs sync has its English.
COMMANDS_LANGUAGE = "fr"
_ENGLISH = (discord.Locale.american_english, discord.Locale.british_english)


def localized(key: str) -> app_commands.locale_str:
    """A command's (or option's, or choice's) catalogue text, French, carrying its key."""
    return app_commands.locale_str(CATALOGUES[COMMANDS_LANGUAGE][key], key=key)


class CommandTranslator(app_commands.Translator):
    """French names and descriptions by default, English for English-speaking clients."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if locale in _ENGLISH and isinstance(key, str):
            return CATALOGUES["en"].get(key)
        if locale is discord.Locale.french:
            return string.message
        return None


# ---------------------------------------------------------------------------------- helpers


def escape_member_text(text: str) -> str:
    """Member text as typed: Markdown escaped, mentions of every kind neutralised."""
    return discord.utils.escape_mentions(escape_markdown(text))


def fit(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 2]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:
        return cut[:space].rstrip() + " …"  # whole words, then the ellipsis
    return text[: limit - 1] + "…"  # one very long word: cut it


def timestamp(moment: datetime, style: str = "R") -> str:
    """A Discord timestamp (shown in each reader's own time zone) for a naive UTC time."""
    epoch = int(moment.replace(tzinfo=UTC).timestamp())
    return f"<t:{epoch}:{style}>"


def split_message(text: str) -> list[str]:
    """``text`` in chunks Discord accepts as message content, never cutting a word."""
    return split_text(text, MESSAGE_LIMIT) or [""]


def take(text: str, limit: int) -> tuple[str, str]:
    """The longest head of ``text`` within ``limit`` that ends between words, and the rest."""
    if len(text) <= limit:
        return text, ""
    head = split_text(text, limit)[0]
    return head, text[len(head) :].lstrip()


def member_id(interaction: discord.Interaction[Any]) -> str:
    """The platform user id, handed to the engine (which turns it into a pseudonym at once)."""
    return str(interaction.user.id)


def channel_ref(interaction: discord.Interaction[Any]) -> ChannelRef | None:
    return (
        None
        if interaction.channel_id is None
        else ChannelRef(PLATFORM, str(interaction.channel_id))
    )


def has_moderator_rights(interaction: discord.Interaction[Any], settings: DiscordConfig) -> bool:
    """Manage Server (or Administrator), or one of the moderator roles, in the guild the
    interaction comes from, and only there.

    This says nothing about any round: :meth:`DiscordAdapter.moderates_in` adds that the guild
    must be the one holding the round's channel. ``interaction.permissions`` are computed by
    Discord for this guild; ``roles`` are this guild's roles (another guild's role ids can never
    appear among them).
    """
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    roles = getattr(interaction.user, "roles", [])
    wanted = set(settings.moderator_role_ids)
    return any(role.id in wanted for role in roles)


def failure(error: BaseException) -> str:
    """An exception for the log: its types and frames, without its messages.

    Exception messages may quote what a member typed (a database error quotes the statement's
    parameters, a validation error the value), and logs are storage: the types and the lines
    where they were raised are enough to find the bug.
    """
    lines: list[str] = []
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if isinstance(current, discord.HTTPException):
            # Discord's status and error code say what went wrong; its text is not needed.
            name += f" (HTTP {current.status}, code {current.code})"
        lines.append(name)
        for frame in traceback.extract_tb(current.__traceback__):
            lines.append(f"  {frame.filename}:{frame.lineno} in {frame.name}")
        current = current.__cause__ or current.__context__
        if current is not None:
            lines.append("caused by")
    return "\n".join(lines)


def to_file(attachment: Attachment) -> discord.File:
    return discord.File(
        io.BytesIO(attachment.data),
        filename=Path(attachment.filename).name,
        description=attachment.description[:1024] or None,  # the alt text clients show
    )


T = TypeVar("T")

# How long a member's click may wait for the database before the bot acknowledges it with a
# "thinking" defer. Discord allows 3 s for the first response; answering directly costs one
# HTTP round trip per click where a defer plus an edit costs two, so the bot answers directly
# whenever the work is done within this budget (the group commit takes milliseconds), and
# defers a slow write, leaving time for the defer itself. benchmarks/front_door.py measured
# 0.25 s against 1 s and against always deferring: with 1 s a burst of 4,000 clicks left some
# past 3 s (the waits add up in the queue); with 0.25 s all were acknowledged in time.
ANSWER_BUDGET = 0.25
# ...and never past this age of the interaction (from its id's timestamp): a click that
# waited in a busy bot's queue is deferred at once, while its 3 s still leave room.
DEFER_BY_AGE = 0.5
# ``interaction.extras`` key: the answer replaces the message whose button was clicked.
REPLACES = "debate_bot.replaces"


def answer_budget(interaction: discord.Interaction[Any]) -> float:
    """How long this interaction's work may take before it must be deferred: the budget,
    cut by the time it already waited (a clock ahead of Discord's counts as no wait)."""
    age = max(0.0, (discord.utils.utcnow() - interaction.created_at).total_seconds())
    return max(0.0, min(ANSWER_BUDGET, DEFER_BY_AGE - age))


def replacing(interaction: discord.Interaction[Any]) -> None:
    """This interaction's answer edits the message whose button was clicked (a deferred
    update when it is slow) instead of being a new private message."""
    interaction.extras[REPLACES] = True


async def in_time(interaction: discord.Interaction[Any], work: Awaitable[T]) -> T:
    """The result of ``work``; if it takes longer than :data:`ANSWER_BUDGET`, the interaction
    is deferred first (as :func:`replacing` says) so that Discord's deadline holds."""
    if interaction.response.is_done():
        return await work
    task = asyncio.ensure_future(work)
    if not await settles_within(task, answer_budget(interaction)):
        if interaction.extras.get(REPLACES):
            await interaction.response.defer()
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)
    return await task


async def answer(
    interaction: discord.Interaction[Any],
    text: str,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    files: Sequence[Attachment] = (),
) -> None:
    """Answer privately: the deferred response, or a new ephemeral one; long text is split.

    After a defer the first chunk replaces the "thinking" message (or the message whose button
    was clicked) and the view, if any, goes with it; further chunks follow as ephemeral
    follow-ups. Without one (:func:`in_time` answered in time) it is the interaction's one
    response: a new private message, or the clicked message updated in place.
    """
    chunks = split_message(text)
    first, rest = chunks[0], chunks[1:]
    attachments = [to_file(a) for a in files]
    if interaction.response.is_done():
        await interaction.edit_original_response(
            content=first, embed=embed, view=view, attachments=attachments
        )
    elif interaction.extras.get(REPLACES):
        await interaction.response.edit_message(
            content=first, embed=embed, view=view, attachments=attachments
        )
    else:
        extra: dict[str, Any] = {}
        if embed is not None:
            extra["embed"] = embed
        if view is not None:
            extra["view"] = view
        if attachments:
            extra["files"] = attachments
        await interaction.response.send_message(first, ephemeral=True, **extra)
    for chunk in rest:
        await interaction.followup.send(chunk, ephemeral=True)


async def refuse(interaction: discord.Interaction[Any], error: EngineError) -> None:
    """Answer privately with the engine's localised explanation."""
    await answer(interaction, explain(adapter_of(interaction), error))


def explain(adapter: DiscordAdapter, error: EngineError) -> str:
    """The engine's refusal as a Discord member reads it."""
    if error.key == "db_unconfirmed":
        # Members check what was recorded with the command or the button, not "!ma-position".
        fields = {**error.fields, "check": adapter.texts("check_mine")}
        return adapter.messages(error.key, **fields)
    return error.render(adapter.messages)


def outage_answer(adapter: DiscordAdapter, error: BaseException) -> str | None:
    """What to say for a database failure that reached a handler unclassified, else None."""
    refusal = as_answer(error)
    return None if refusal is None else explain(adapter, refusal)


def adapter_of(interaction: discord.Interaction[Any]) -> DiscordAdapter:
    client = interaction.client
    if not isinstance(client, DebateBot):
        raise TypeError("the interaction does not come from the debate bot")
    return client.adapter


class AnnouncementViews(Protocol):
    """The cog that knows the announcement's buttons (``cogs.debate``)."""

    def announcement_view(self, post: RoundPost) -> discord.ui.View: ...


# ---------------------------------------------------------------------------------- storage


class AnnouncementStore:
    """The message id of each announcement the bot posted, per round and channel.

    Kept in the database (:mod:`bot.postrefs`), so that a restarted bot, or another process
    leading after it, still edits the same message. Ids of the bot's own messages, never
    member data; they go with their round. An older bot kept them in a JSON file of the data
    directory: :meth:`import_file` moves what it holds into the database once.
    """

    def __init__(self, refs: PostRefs, kind: str = "announcement") -> None:
        self.refs = refs
        self.kind = kind

    def _key(self, round_id: int, channel_id: int) -> str:
        return f"{self.kind}:{round_id}:{channel_id}"

    async def get(self, round_id: int, channel_id: int) -> int | None:
        found = await self.refs.get(self._key(round_id, channel_id))
        return int(found) if found is not None else None

    async def remember(self, round_id: int, channel_id: int, message_id: int) -> None:
        await self.refs.put(round_id, self._key(round_id, channel_id), str(message_id))

    async def forget(self, round_id: int, channel_id: int) -> None:
        await self.refs.forget(self._key(round_id, channel_id))

    def old_announcement(self, key: str) -> tuple[int, str] | None:
        """``(round id, key)`` of an entry of the old announcements file (``round:channel``)."""
        head, _, channel = key.partition(":")
        if not (head.isdigit() and channel.isdigit()):
            return None
        return int(head), self._key(int(head), int(channel))


class SentPosts:
    """The message id of every message of a round's posts the bot sent, by post key.

    Written as soon as Discord has answered each send, so that a delivery retried after a
    crash (the post was out, the outbox not yet told), by this process or another, finds
    what it already posted. Post keys name rounds and outbox rows, never a member.
    """

    def __init__(self, refs: PostRefs) -> None:
        self.refs = refs

    @staticmethod
    def _round_of(part: str) -> int | None:
        head = part.split("-", 1)[0]  # post keys start with their round id
        return int(head) if head.isdigit() else None

    async def get_part(self, part: str) -> int | None:
        found = await self.refs.get(f"sent:{part}")
        return int(found) if found is not None else None

    async def remember_part(self, part: str, message_id: int) -> None:
        round_id = self._round_of(part)
        if round_id is not None:
            await self.refs.put(round_id, f"sent:{part}", str(message_id))

    def old_part(self, key: str) -> tuple[int, str] | None:
        """``(round id, key)`` of an entry of the old sent-posts file."""
        round_id = self._round_of(key)
        return None if round_id is None else (round_id, f"sent:{key}")


async def import_old_file(
    refs: PostRefs, path: Path, entry: Callable[[str], tuple[int, str] | None]
) -> None:
    """Move the message ids an older bot kept in the file ``path`` of its data directory into
    the database (``entry`` reads each of its keys), then delete the file."""
    try:
        raw = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        log.warning("%s is unreadable (%s); its message ids are not kept", path.name, exc)
        return
    entries: dict[tuple[int, str], str] = {}
    for key, value in raw.items() if isinstance(raw, dict) else ():
        found = entry(str(key))
        if found is not None and str(value).isdigit():
            entries[found] = str(value)
    kept = await refs.import_all(entries)
    await asyncio.to_thread(path.unlink, missing_ok=True)
    log.info("%d message id(s) of %s moved into the database", kept, path.name)


def nonce_for(part: str) -> str:
    """The Discord nonce of one message of a post: the same on every attempt, 25 characters."""
    digest = base64.b32encode(hashlib.sha256(part.encode("utf-8")).digest()).decode("ascii")
    return "deb" + digest.lower()[: NONCE_LENGTH - 3]


@dataclass
class _Delivery:
    """One attempt at posting one post in one channel: each message is sent at most once.

    A message is not sent again when this process's record has it (``SentPosts``), nor, on a
    retried delivery, when the bot's own recent messages in the channel carry its nonce (the
    record can miss a message when the process died just after Discord created it). Within
    Discord's nonce window, Discord itself returns the existing message for a repeated nonce.
    """

    adapter: DiscordAdapter
    target: discord.PartialMessageable
    post: RoundPost
    recent: dict[str, int] | None = None  # nonce -> id of the bot's recent messages

    async def find(self, index: int) -> int | None:
        """The id of message ``index`` of this post if it already reached the channel."""
        key = self.post.key
        if key is None:
            return None
        part = key.part(index)
        known = await self.adapter.sent.get_part(part)
        if known is not None or not key.retry:
            return known
        if self.recent is None:
            self.recent = await self.adapter.recent_nonces(self.target)
        found = self.recent.get(nonce_for(part))
        if found is not None:
            await self.adapter.sent.remember_part(part, found)
        return found

    async def send(self, index: int, **fields: Any) -> discord.Message | None:
        """Send message ``index`` of this post; None if an earlier attempt had sent it."""
        key = self.post.key
        if key is None:
            return await self.target.send(**fields)
        if await self.find(index) is not None:
            return None
        part = key.part(index)
        # discord.py sends ``enforce_nonce`` with every nonce.
        message = await self.target.send(nonce=nonce_for(part), **fields)
        await self.adapter.sent.remember_part(part, message.id)
        return message


# ---------------------------------------------------------------------------------- the bot


class DebateTree(app_commands.CommandTree["DebateBot"]):
    """Turns failed checks and unexpected errors into a private answer."""

    async def on_error(
        self, interaction: discord.Interaction[DebateBot], error: app_commands.AppCommandError
    ) -> None:
        adapter = self.client.adapter
        original = getattr(error, "original", error)
        if isinstance(original, EngineError):
            text = explain(adapter, original)
        elif isinstance(error, app_commands.CheckFailure):
            text = adapter.messages("not_moderator")
        elif (unavailable := outage_answer(adapter, original)) is not None:
            text = unavailable
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("/%s failed: %s", command, failure(original))
            text = adapter.texts("error")
        with contextlib.suppress(discord.HTTPException):
            await answer(interaction, text)


class DebateBot(commands.Bot):
    """The discord.py client: guilds intent only, no message cache, mentions disabled."""

    def __init__(self, adapter: DiscordAdapter, **shards: Any) -> None:
        # The bot never joins a voice channel: no warning about missing voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            tree_cls=DebateTree,
            allowed_mentions=NO_MENTIONS,
            max_messages=None,
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            **shards,
        )
        self.adapter = adapter

    @property
    def holds_shard_zero(self) -> bool:
        """Whether this process holds shard 0 (Discord's shard for DMs), or is not sharded."""
        return True

    async def setup_hook(self) -> None:
        # Runs once per login, never on reconnects: the right place for the command sync
        # (``on_ready`` fires again after every reconnect and would burn the daily limits).
        await self.tree.set_translator(CommandTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.holds_shard_zero:
            # With several processes, one registers the commands (they are the same for all).
            await self.adapter.sync_commands()


class ShardedDebateBot(DebateBot, commands.AutoShardedBot):
    """The same client over several gateway connections (``shard_count``, ``shard_ids``):
    discord.py routes each server's events, and its members' clicks, to the shard holding it."""

    # Discord lets a bot IDENTIFY once per 5 s (per concurrency bucket): discord.py waits that
    # long before each shard after the first.
    identify_delay = 5.0

    @property
    def holds_shard_zero(self) -> bool:
        return 0 in (self.shard_ids or [0])

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial:
            await asyncio.sleep(self.identify_delay)


def make_bot(adapter: DiscordAdapter, env: Mapping[str, str]) -> tuple[DebateBot, str | None]:
    """The client for this process, sharded when ``shard_count`` is set; and what is wrong
    with the environment's shard ids, if anything (the start fails with it)."""
    try:
        count, ids = adapter.settings.shards(env)
    except ValueError as exc:
        return DebateBot(adapter), str(exc)
    if count is None:
        return DebateBot(adapter), None
    return ShardedDebateBot(adapter, shard_count=count, shard_ids=ids), None


# ---------------------------------------------------------------------------------- adapter


class DiscordAdapter:
    """The :class:`~bot.ports.ChatPort` for Discord."""

    platform = PLATFORM

    def __init__(self, context: AdapterContext[DiscordConfig]) -> None:
        self.rounds = context.rounds
        self.settings = context.settings
        self.messages = context.messages
        self.cases = context.cases
        if context.refs is None:
            raise ValueError("the Discord adapter keeps its message ids in the database")
        self.announcements = AnnouncementStore(context.refs)
        self.sent = SentPosts(context.refs)
        self.data_dir = context.data_dir
        self.bot, self._shard_error = make_bot(self, os.environ)
        self._gateway: asyncio.Task[None] | None = None
        # channel id -> guild id, for channels fetched over REST (a channel never moves to
        # another guild, so a found guild stays true; a failed lookup is not remembered).
        self._fetched_guilds: dict[int, int] = {}
        # The round channels are public places the operator configured: the log may name them
        # (the scrubber hides every other snowflake, members' and interactions' included).
        for debate in context.debates():
            for channel in debate.channels:
                if channel.platform == PLATFORM:
                    logs.allow(channel.key)

    def texts(self, key: str, **fields: Any) -> str:
        """The adapter's own sentence ``key`` in the configured language."""
        return self.messages(f"discord_{key}", **fields)

    def actor(self, interaction: discord.Interaction[Any]) -> Actor:
        """The member behind an interaction, with the fact only Discord can establish: whether
        they moderate some channels (:meth:`moderates_in`). A moderator command without a
        code means a round of the guild it comes from."""

        async def moderates(channels: Sequence[ChannelRef]) -> bool:
            return await self.moderates_in(interaction, channels)

        return Actor(
            PLATFORM,
            member_id(interaction),
            moderates,
            channel_ref(interaction),
            scope_by_rights=True,
        )

    # ------------------------------------------------------------------ lifecycle

    def token(self) -> str:
        name = self.settings.token_env
        token = os.environ.get(name, "").strip()
        if not token:
            raise DiscordConfigError(
                f"the Discord bot token is missing: set the environment variable {name} "
                "(platforms.discord.token_env) to the token from the developer portal"
            )
        return token

    async def start(self) -> None:
        """Log in (REST), run ``setup_hook``, then keep the gateway connection in a task.

        Logging in first makes a bad token fail the start loudly; the gateway connection
        reconnects by itself for as long as the bot runs.
        """
        if self._shard_error is not None:
            raise DiscordConfigError(self._shard_error)
        try:
            await self.bot.login(self.token())
        except Exception:
            await self.bot.close()  # the HTTP session opened by the attempt
            raise
        # Message ids an older bot kept in files of its data directory.
        refs = self.announcements.refs
        old = self.data_dir / ANNOUNCEMENTS_FILE
        await import_old_file(refs, old, self.announcements.old_announcement)
        await import_old_file(refs, self.data_dir / SENT_FILE, self.sent.old_part)
        self._gateway = asyncio.get_running_loop().create_task(
            self._run_gateway(), name="discord-gateway"
        )

    async def _run_gateway(self) -> None:
        try:
            await self.bot.connect(reconnect=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the Discord gateway connection stopped")

    async def stop(self) -> None:
        await self.bot.close()
        if self._gateway is not None:
            self._gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gateway
            self._gateway = None

    async def sync_commands(self) -> None:
        """Register the application commands in each configured guild (instant), and
        globally only when asked (global commands take a while to appear)."""
        tree = self.bot.tree
        for guild_id in self.settings.guild_ids:
            guild = discord.Object(id=guild_id)
            tree.copy_global_to(guild=guild)
            try:
                synced = await tree.sync(guild=guild)
            except discord.Forbidden:
                log.error(
                    "cannot register the slash commands in guild %s: invite the bot with the "
                    "applications.commands scope (see docs/discord.md)",
                    guild_id,
                )
                continue
            log.info("synced %d application command(s) in guild %s", len(synced), guild_id)
        if self.settings.sync_commands_globally:
            synced = await tree.sync()
            log.info("synced %d global application command(s)", len(synced))
        elif not self.settings.guild_ids:
            log.warning(
                "no platforms.discord.guild_ids and sync_commands_globally is false: the /debat "
                "commands are not registered anywhere (buttons still work)"
            )

    # ------------------------------------------------------------------ moderator rights

    async def guild_of(self, channel: ChannelRef) -> int | None:
        """The guild holding a Discord channel, or None when it cannot be determined.

        From discord.py's cache (filled by GUILD_CREATE with the guilds intent), else from
        ``GET /channels/{id}`` (a guild that was unavailable at start, a channel created since),
        bounded in time: a caller waiting on it may have to answer within Discord's three
        seconds, and an undetermined guild is a refusal anyway.
        """
        if channel.platform != PLATFORM or not channel.channel.isdigit():
            return None
        channel_id = int(channel.channel)
        cached = self.bot.get_channel(channel_id)
        guild = getattr(cached, "guild", None)
        if guild is not None:
            return int(guild.id)
        if channel_id in self._fetched_guilds:
            return self._fetched_guilds[channel_id]
        try:
            fetched = await asyncio.wait_for(self.bot.fetch_channel(channel_id), GUILD_LOOKUP_S)
        except (discord.HTTPException, discord.InvalidData, TimeoutError) as exc:
            log.warning("the guild of Discord channel %s is unknown (%s)", channel_id, exc)
            return None
        guild = getattr(fetched, "guild", None)
        if guild is None:
            return None  # a DM or group channel: no guild, no moderators
        self._fetched_guilds[channel_id] = int(guild.id)
        return int(guild.id)

    async def guilds_of(self, channels: Iterable[ChannelRef]) -> set[int]:
        """The guilds holding these channels (those that can be determined)."""
        wanted = list(dict.fromkeys(c for c in channels if c.platform == PLATFORM))
        # Concurrently: uncached channels cost one bounded lookup in all, not one each.
        found = await asyncio.gather(*(self.guild_of(c) for c in wanted))
        return {guild for guild in found if guild is not None}

    async def moderates_in(
        self, interaction: discord.Interaction[Any], channels: Iterable[ChannelRef]
    ) -> bool:
        """Whether the caller moderates one of ``channels`` (a round's, or a debate's).

        The interaction must come from the guild holding one of them, and the caller must have
        moderator rights in that guild; rights anywhere else count for nothing.
        """
        if interaction.guild_id is None or not has_moderator_rights(interaction, self.settings):
            return False
        return interaction.guild_id in await self.guilds_of(channels)

    # ------------------------------------------------------------------ ChatPort

    async def publish(self, channel: ChannelRef, post: RoundPost) -> None:
        if channel.platform != PLATFORM:
            raise ValueError(f"{channel} is not a Discord channel")
        if self.bot.is_closed() or self.bot.user is None:
            raise RuntimeError("the Discord adapter is not running; the post stays queued")
        target = self.bot.get_partial_messageable(int(channel.channel))
        delivery = _Delivery(self, target, post)
        try:
            if post.kind == PostKind.ANNOUNCEMENT:
                await self._announce(delivery)
            elif post.kind == PostKind.PROGRESS:
                await self._refresh(target, post)
            elif post.kind == PostKind.REMINDER:
                await self._remind(delivery)
            elif post.kind == PostKind.SUMMARY:
                await self._summarise(delivery)
            elif post.kind == PostKind.MODERATION:
                for index, chunk in enumerate(split_message(post.text)):
                    await delivery.send(index, content=chunk)
            else:
                await self._close(delivery)
        except discord.Forbidden as exc:
            # The outbox retries; say what the organiser has to fix meanwhile.
            raise RuntimeError(
                f"the bot may not post in Discord channel {target.id}: give it View Channel, "
                "Send Messages, Embed Links, Attach Files and Read Message History there "
                "(docs/discord.md)"
            ) from exc

    def _is_open(self, round_id: int) -> bool:
        return any(r.id == round_id for r in self.rounds.open_rounds())

    def _components(self) -> AnnouncementViews:
        cog = self.bot.get_cog("DebateCog")
        if cog is None:
            raise RuntimeError("the cogs.debate extension is not loaded")
        return cast(AnnouncementViews, cog)

    async def recent_nonces(self, target: discord.PartialMessageable) -> dict[str, int]:
        """The nonces of the bot's own latest messages in ``target`` (message ids by nonce).

        Discord returns the nonce of a recent message. If the history cannot be read, the
        retry goes ahead: within the nonce window Discord still refuses a duplicate.
        """
        me = self.bot.user.id if self.bot.user is not None else None
        found: dict[str, int] = {}
        try:
            async for message in target.history(limit=RECENT_MESSAGES):
                if message.author.id == me and message.nonce is not None:
                    found[str(message.nonce)] = message.id
        except discord.HTTPException as exc:
            log.warning(
                "cannot read the history of Discord channel %s to find an earlier post "
                "(HTTP %s); relying on Discord's nonce check",
                target.id,
                exc.status,
            )
        return found

    async def _announce(self, delivery: _Delivery) -> None:
        target, post = delivery.target, delivery.post
        # Delivered late (the bot was down until after the close): no buttons to offer.
        is_open = self._is_open(post.round_id)
        embed = self.announcement_embed(post, closed=not is_open)
        view = self._components().announcement_view(post) if is_open else None
        known = await self.announcements.get(post.round_id, target.id)
        if known is None and (known := await delivery.find(0)) is not None:
            await self.announcements.remember(post.round_id, target.id, known)
        if known is not None:
            # A retried delivery (the first attempt posted but was not marked delivered):
            # edit that message rather than announce twice.
            with contextlib.suppress(discord.NotFound):
                await target.get_partial_message(known).edit(
                    embed=embed, view=view, allowed_mentions=NO_MENTIONS
                )
                return
        extra: dict[str, Any] = {} if view is None else {"view": view}
        message = await delivery.send(0, embed=embed, **extra)
        if message is not None:
            await self.announcements.remember(post.round_id, target.id, message.id)

    async def _refresh(self, target: discord.PartialMessageable, post: RoundPost) -> None:
        """Edit the participation count (and close time) into the announcement."""
        known = await self.announcements.get(post.round_id, target.id)
        if known is None:
            log.info("no announcement of round %s in %s to refresh", post.round_id, target.id)
            return
        embed = self.announcement_embed(post, closed=not self._is_open(post.round_id))
        try:
            await target.get_partial_message(known).edit(embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            # Deleted by someone; later refreshes have nothing to edit either.
            await self.announcements.forget(post.round_id, target.id)

    async def _remind(self, delivery: _Delivery) -> None:
        target, post = delivery.target, delivery.post
        text = self.texts(
            "reminder",
            code=post.round_code,
            relative=timestamp(post.closes_at),
            question=post.question,
        )
        known = await self.announcements.get(post.round_id, target.id)
        reference = (
            None
            if known is None
            else discord.MessageReference(
                message_id=known, channel_id=target.id, fail_if_not_exists=False
            )
        )
        chunks = split_message(text)
        for index, chunk in enumerate(chunks):
            if index == 0 and reference is not None:
                await delivery.send(index, content=chunk, reference=reference)
            else:
                await delivery.send(index, content=chunk)

    async def _summarise(self, delivery: _Delivery) -> None:
        target, post = delivery.target, delivery.post
        batches = self.summary_embeds(post)
        for index, embeds in enumerate(batches):
            if index == 0 and post.attachments:
                # Files are built per attempt: a discord.File is spent once it is sent.
                files = [to_file(a) for a in post.attachments]
                await delivery.send(index, embeds=embeds, files=files)
            else:
                await delivery.send(index, embeds=embeds)
        await self._mark_closed(target, post)

    async def _close(self, delivery: _Delivery) -> None:
        for index, chunk in enumerate(split_message(delivery.post.text)):
            await delivery.send(index, content=chunk)
        await self._mark_closed(delivery.target, delivery.post)

    async def _mark_closed(self, target: discord.PartialMessageable, post: RoundPost) -> None:
        """Take the buttons off the announcement (best effort: the post itself is out)."""
        known = await self.announcements.get(post.round_id, target.id)
        if known is None:
            return
        try:
            await target.get_partial_message(known).edit(
                embed=self.announcement_embed(post, closed=True),
                view=None,
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException as exc:
            log.warning("could not close the announcement of round %s: %s", post.round_id, exc)

    # ------------------------------------------------------------------ rendering

    def announcement_embed(self, post: RoundPost, *, closed: bool = False) -> discord.Embed:
        t = self.texts
        title = fit(
            self.messages("announcement_title", title=post.debate_title, code=post.round_code),
            EMBED_TITLE_LIMIT,
        )
        parts = [f"**{fit(post.question, 1000)}**"]
        if post.context:
            excerpt = fit(" ".join(post.context.split()), CONTEXT_EXCERPT)
            parts.append("> " + excerpt)
        if post.source:
            parts.append(f"*{fit(post.source, 500)}*")
        if closed:
            parts.append(f"**{t('announcement_closed')}**")
        embed = discord.Embed(
            title=title,
            description=fit("\n\n".join(parts), EMBED_DESCRIPTION_LIMIT),
            colour=discord.Colour.dark_grey() if closed else COLOUR,
        )
        embed.add_field(
            name=t("field_closes"),
            value=f"{timestamp(post.closes_at, 'f')} ({timestamp(post.closes_at)})",
            inline=True,
        )
        embed.add_field(
            name=t("field_participation"), value=str(post.participation or 0), inline=True
        )
        embed.add_field(name=t("field_code"), value=f"`{post.round_code}`", inline=True)
        embed.set_footer(text=fit(t("announcement_footer"), EMBED_FOOTER_LIMIT))
        return embed

    def summary_embeds(self, post: RoundPost) -> list[list[discord.Embed]]:
        """The summary as batches of embeds, one batch per message, within Discord's limits.

        Embeds are filled greedily (4,096 characters each, 6,000 a message), cut between
        words; past ``SUMMARY_MESSAGES_MAX`` messages the text ends with a pointer to the
        export. The first embed carries the title and the chart (``attachment://``). Member
        text in ``post.text`` is already escaped by the core.
        """
        head, _, body = post.text.partition("\n")
        title = fit(head.strip().strip("*").strip(), EMBED_TITLE_LIMIT)
        more = self.texts("summary_more")
        rest = body.strip()
        batches: list[list[discord.Embed]] = [[]]
        size = len(title)
        truncated = False
        while rest:
            budget = EMBED_TOTAL_LIMIT - size
            if len(batches) == SUMMARY_MESSAGES_MAX and len(rest) > budget and not truncated:
                rest = fit(rest, budget - len(more) - 2) + "\n\n" + more
                truncated = True
            room = min(EMBED_DESCRIPTION_LIMIT, budget)
            full = len(batches[-1]) >= EMBEDS_PER_MESSAGE or room < min(len(rest), 200)
            if full and len(batches) < SUMMARY_MESSAGES_MAX:
                batches.append([])
                size = 0
                continue
            piece, rest = take(rest, room)
            batches[-1].append(discord.Embed(description=piece, colour=COLOUR))
            size += len(piece)
        if not batches[0]:
            batches[0].append(discord.Embed(colour=COLOUR))
        first = batches[0][0]
        first.title = title
        charts = [a for a in post.attachments if a.mime.startswith("image/")]
        if charts:
            first.set_image(url=f"attachment://{Path(charts[0].filename).name}")
        return batches
