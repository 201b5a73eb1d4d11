"""The terminal adapter: the embedded default, used by ``run``, ``demo`` and the tests.

Input lines are ``@<user> <text>`` (a message in the console channel) or ``@<user> dm <text>``
(a direct message to the bot). Every post is printed as one block prefixed with its channel:
``[general]`` or ``[dm:<user>]``. Attachments are written to ``<data_dir>/exports`` and the
block names the file.
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
        await self._print(f"[{channel.channel}]", post.text, post.attachments)

    async def feed(self, line: str) -> list[Reply]:
        """Handle one input line; returns the replies (also printed)."""
        line = line.rstrip("\n")
        if not line.strip():
            return []
        match = _LINE.match(line.strip())
        if match is None:
            await self._print(
                "[console]", "Format : @<utilisateur> <texte> | @<utilisateur> dm <texte>"
            )
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
        while (line := await lines.get()) is not None:
            count += 1
            try:
                await self.feed(line)
            except Exception:
                log.exception("console input could not be handled")
        return count

    async def _print(
        self, where: str, text: str, attachments: tuple[Attachment, ...] = ()
    ) -> None:
        # Member text reaches the operator's terminal here: nothing in it may drive the terminal.
        body = strip_terminal_controls(markdown_to_plain(text))
        where = strip_terminal_controls(where)
        files = [self._save(a) for a in attachments]
        async with self._write_lock:
            lines = [f"{where} {body}"]
            lines.extend(f"  ↳ {path}" for path in files)
            self.out.write("\n".join(lines) + "\n\n")
            self.out.flush()

    def _save(self, attachment: Attachment) -> Path:
        return write_private(self.export_dir / Path(attachment.filename).name, attachment.data)
