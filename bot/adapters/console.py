"""The terminal adapter: the embedded default, used by ``run``, ``demo`` and the tests.

Input lines are ``@<user> <text>`` (a message in the console channel) or ``@<user> dm <text>``
(a direct message to the bot). Every post is printed as one block prefixed with its channel:
``[general]`` or ``[dm:<user>]``. Attachments are written to ``<data_dir>/exports`` and the
block names the file. A round's post ends with its key, ``[post <key>-<channel>]``: a post
printed just before a crash is printed again after the restart with the same key, and a
reader keeps one block per key.

Lines are handled in the order they come, except that a line stuck on the database holds up
other members' lines for at most ``ORDER_WAIT`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.commands import TextCommands
from bot.config import ConsoleConfig
from bot.events import (
    Attachment,
    ChannelRef,
    Incoming,
    PostKind,
    Reply,
    RoundPost,
    Visibility,
)
from bot.files import write_private
from bot.render import markdown_to_plain
from bot.text import strip_terminal_controls

log = logging.getLogger(__name__)
_LINE = re.compile(r"^@(?P<user>[\w.-]{1,64})\s+(?:(?P<dm>dm)\s+)?(?P<text>.*)$", re.DOTALL)
PLATFORM = "console"
# Seconds a console line waits for other members' earlier lines before it is handled anyway.
ORDER_WAIT = 2.0


class ConsoleAdapter:
    """Reads commands from a text stream and prints the bot's posts."""

    platform = PLATFORM

    def __init__(
        self,
        config: ConsoleConfig,
        commands: TextCommands,
        export_dir: Path,
        out: TextIO | None = None,
    ) -> None:
        self.config = config
        self.commands = commands
        self.export_dir = export_dir
        self.out = out if out is not None else sys.stdout
        self.channel = ChannelRef(PLATFORM, config.channel)
        self._write_lock = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # ModeratorCheck: the console has one channel, moderated by the configured names.
    async def moderates(self, user_id: str, channel: ChannelRef) -> bool:
        return channel == self.channel and user_id in self.config.moderators

    # ChatPort
    async def publish(self, channel: ChannelRef, post: RoundPost) -> None:
        if post.kind == PostKind.PROGRESS:
            return  # a terminal cannot edit the announcement; a new line a minute is noise
        # A terminal cannot be read back: after a crash between printing a post and marking it
        # delivered, it is printed again. Its key, the same both times, ends the block, so a
        # reader keeps one block per key (a block cut off without its key was interrupted).
        trailer = None if post.key is None else f"[post {post.key}-{channel.channel}]"
        await self._print(f"[{channel.channel}]", post.text, post.attachments, trailer)

    async def feed(self, line: str) -> list[Reply]:
        """Handle one input line; returns the replies (also printed)."""
        line = line.rstrip("\n")
        if not line.strip():
            return []
        match = _LINE.match(line.strip())
        if match is None:
            await self._print("[console]", self.commands.m("console_usage"))
            return []
        user = match.group("user")
        is_dm = match.group("dm") is not None
        msg = Incoming(
            platform=PLATFORM,
            user_id=user,
            text=match.group("text"),
            channel=None if is_dm else self.channel,
            shared_channels=(self.channel,),
        )
        replies = await self.commands.handle(msg)
        for reply in replies:
            private = reply.visibility == Visibility.PRIVATE or is_dm
            where = f"[dm:{user}]" if private else f"[{self.channel.channel}]"
            await self._print(where, reply.text, reply.attachments)
        return replies

    async def run(self, stream: TextIO | None = None) -> int:
        """Read lines until end of input; returns how many were read.

        The blocking reads happen on a daemon thread of their own, not on the event loop's
        executor: an idle terminal or FIFO must never hold up a shutdown asked by a signal.
        """
        source = stream if stream is not None else sys.stdin
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def hand_over(line: str | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(lines.put_nowait, line)

        def pump() -> None:
            try:
                for line in iter(source.readline, ""):
                    hand_over(line)
            except (OSError, ValueError):
                pass  # the stream was closed under us
            finally:
                hand_over(None)

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()
        count = 0
        outstanding: set[asyncio.Task[None]] = set()
        last_of: dict[str, asyncio.Task[None]] = {}
        while (line := await lines.get()) is not None:
            count += 1
            match = _LINE.match(line.strip())
            user = match.group("user") if match else ""
            task = loop.create_task(self._in_turn(line, last_of.get(user), set(outstanding)))
            outstanding.add(task)
            task.add_done_callback(outstanding.discard)
            last_of[user] = task
        if outstanding:
            await asyncio.wait(outstanding)
        return count

    async def _in_turn(
        self, line: str, mine: asyncio.Task[None] | None, earlier: set[asyncio.Task[None]]
    ) -> None:
        """Handle ``line`` after the sender's earlier lines, and after everyone's within reason.

        Lines are answered in the order they were typed while the bot keeps up, so a script
        reads the same every time; but a line stuck on the database holds up other members'
        lines for at most ``ORDER_WAIT`` seconds (its sender's own next lines wait for it:
        they may depend on it).
        """
        if mine is not None:
            await asyncio.wait({mine})
        pending = {t for t in earlier if not t.done()}
        if pending:
            await asyncio.wait(pending, timeout=ORDER_WAIT)
        try:
            await self.feed(line)
        except Exception as exc:
            # By type only: the message of a database error may quote the member's text.
            log.error("console input could not be handled: %s", type(exc).__name__)

    async def _print(
        self,
        where: str,
        text: str,
        attachments: tuple[Attachment, ...] = (),
        trailer: str | None = None,
    ) -> None:
        # Member text reaches the operator's terminal here: nothing in it may drive the terminal.
        body = strip_terminal_controls(markdown_to_plain(text))
        where = strip_terminal_controls(where)
        files = [self._save(a) for a in attachments]
        async with self._write_lock:
            lines = [f"{where} {body}"]
            lines.extend(f"  ↳ {path}" for path in files)
            if trailer is not None:
                lines.append(strip_terminal_controls(trailer))
            self.out.write("\n".join(lines) + "\n\n")
            self.out.flush()

    def _save(self, attachment: Attachment) -> Path:
        return write_private(self.export_dir / Path(attachment.filename).name, attachment.data)
