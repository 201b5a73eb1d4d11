"""The outbox: every post the engine owes a channel, queued in the database and delivered.

Posts are queued (:func:`enqueue_posts`) in the transaction that makes them due, so a round
that opens is announced even if the process dies right after; the :class:`Publisher` delivers
them and retries until each is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from bot import store
from bot.events import ChannelRef, PostKey, PostKind, RoundPost
from bot.ports import ChatPort
from bot.store import OutboxRow

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)
MAX_DELIVERY_ATTEMPTS = 1000


def enqueue_posts(conn: Connection, round_id: int, kind: PostKind, created_at: datetime) -> None:
    """Queue a ``kind`` post of the round for each of its channels."""
    channels = store.round_channels(conn, round_id)
    store.insert_outbox(conn, round_id, kind.value, channels, created_at)


class Publisher:
    """Delivers the outbox: every post the engine owes a channel, retried until delivered.

    A post can reach its channel and the process die before the row is marked delivered, so
    a delivery may be attempted again. Each attempt carries the row's :class:`PostKey` (the
    same every time) and says whether an earlier attempt began; adapters use it to post each
    message once as members see it (a Discord nonce and a look at the channel, a Matrix
    transaction id and a look at the room; the console prints the key so a reader can drop a
    repeat).
    """

    def __init__(self, engine: Engine, ports: dict[str, ChatPort]) -> None:
        self.engine = engine
        self.ports = ports
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._absent: set[str] = set()  # platforms whose posts this leader leaves for another
        # Platforms whose adapter is not started yet in this process (a leader taking over a
        # Matrix device): their posts wait for it.
        self.waiting: set[str] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="publisher")
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.deliver()
            except Exception:
                log.exception("outbox delivery failed; will retry")

    async def deliver(self) -> int:
        """Deliver what is pending; returns the number of posts delivered."""
        async with self._lock:
            if not self.engine.core.leading:
                return 0  # a follower owes nothing: the leader delivers the outbox
            rows = await self.engine.db.read(store.pending_outbox)
            posts: dict[tuple[int, str], RoundPost | None] = {}
            latest_progress: dict[tuple[int, str], int] = {}
            for row in rows:
                if row.kind == PostKind.PROGRESS.value:
                    latest_progress[(row.round_id, row.channel)] = row.id
            delivered = 0
            for row in rows:
                stale = (
                    row.kind == PostKind.PROGRESS.value
                    and latest_progress[(row.round_id, row.channel)] != row.id
                )
                if await self._deliver_one(row, stale, posts):
                    delivered += 1
            return delivered

    async def _deliver_one(
        self, row: OutboxRow, stale: bool, posts: dict[tuple[int, str], RoundPost | None]
    ) -> bool:
        """Deliver one row (``posts`` caches the posts built); whether it was posted now."""
        platform, _, channel = row.channel.partition(":")
        port = self.ports.get(platform)
        if not stale and self._owed_later(platform, port is None):
            return False
        if port is None or stale:
            await self._mark(row.id, True, None if stale else "platform not running")
            return False
        kind = PostKind(row.kind)
        # A moderation post is its own batch: one per outbox row, not one per round.
        key = (row.id, row.kind) if kind == PostKind.MODERATION else (row.round_id, row.kind)
        if key not in posts:
            posts[key] = await self.engine.build_post(
                row.round_id, kind, outbox_id=row.id, platform=platform
            )
        post = posts[key]
        if post is None:
            await self._mark(row.id, True, "round has no such post")
            return False
        post_key = PostKey(
            outbox_id=row.id,
            round_id=row.round_id,
            round_code=post.round_code,
            kind=PostKind(row.kind),
            channel=row.channel,
            retry=row.attempts > 0,
        )
        # Counted before posting: a crash between the post and its mark leaves a row whose
        # next attempt knows the post may be out, and has the adapter check. The claim is
        # fenced: a deposed leader (or a post another process claimed since) sends nothing.
        if not await self._claim(row):
            return False
        leadership = self.engine.core.leadership
        if leadership is not None and leadership.fence() is None:
            # Paused (or cut off) past the lease while the claim committed: the next leader
            # delivers it (the attempt counted, it checks first whether the post is out).
            return False
        try:
            await port.publish(ChannelRef(platform, channel), replace(post, key=post_key))
        except Exception as exc:
            log.warning(
                "posting %s of round %s to %s failed: %s",
                row.kind,
                row.round_id,
                row.channel,
                exc,
            )
            await self._mark(row.id, row.attempts + 1 >= MAX_DELIVERY_ATTEMPTS, repr(exc))
            return False
        await self._mark(row.id, True, None)
        return True

    def _owed_later(self, platform: str, absent: bool) -> bool:
        """Whether a post to ``platform`` stays owed for now instead of being delivered (or
        given up) here: its adapter is not started yet in this leader (it pokes the outbox
        once it runs), or, with several processes, the platform runs in another one, which
        delivers the post when it leads."""
        if platform in self.waiting:
            return True
        leadership = self.engine.core.leadership
        if not absent or leadership is None or not leadership.shared:
            return False
        if platform not in self._absent:
            self._absent.add(platform)
            log.warning("posts to %s wait for a leader that runs %s", platform, platform)
        return True

    async def _claim(self, row: OutboxRow) -> bool:
        leadership = self.engine.core.leadership
        fence = None if leadership is None else leadership.fence()
        if leadership is not None and fence is None:
            return False  # not the leader (any more): the leader delivers it

        def claim(conn: Connection) -> bool:
            return store.begin_delivery(conn, row.id, row.attempts, fence)

        return await self.engine.writer.call(claim)

    async def _mark(self, outbox_id: int, delivered: bool, error: str | None) -> None:
        await self.engine.writer.call(
            lambda conn: store.mark_delivery(conn, outbox_id, delivered, error)
        )
