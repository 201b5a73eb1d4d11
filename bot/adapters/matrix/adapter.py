"""The :class:`MatrixAdapter` façade: start, stop, login, and the ChatPort calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nio

from bot.events import ChannelRef, PostKind, RoundPost

from .client import _Client, check
from .crosssigning import CrossSigning
from .discovery import resolve_homeserver
from .errors import MatrixError, _error
from .forgetting import Forgetting
from .handling import EventHandler
from .rooms import PLATFORM, Rooms
from .sending import Sender
from .store import CleanupState, MatrixStore, SeenEvents
from .sync import SyncLoop, Worker, _Batch
from .undecryptable import Undecryptable

if TYPE_CHECKING:
    from bot.config import Config, MatrixConfig
    from bot.platforms import AdapterContext, AdapterFactory

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
TIMELINE_LIMIT = 50
READY_TIMEOUT = 60.0


class MatrixAdapter:
    """The :class:`~bot.ports.ChatPort` for Matrix, over ``nio.AsyncClient`` with encryption.

    The work is done by its parts: :class:`~.rooms.Rooms`, :class:`~.sync.SyncLoop` and
    :class:`~.sync.Worker`, :class:`~.handling.EventHandler`, :class:`~.sending.Sender` and
    :class:`~.forgetting.Forgetting`; this class starts and stops them and holds what they
    share (the client, the store, the sync condition).
    """

    platform = PLATFORM
    # With several processes on one database, only the leader's adapter runs (bot.app): one
    # device, one store, one client at a time; the others stand by and take over with it.
    leader_only = True

    def __init__(
        self, context: AdapterContext[MatrixConfig], *, reset_cross_signing: bool = False
    ) -> None:
        self.config = context.settings
        self.rounds = context.rounds
        self.messages = context.messages
        self.commands = context.commands
        self.debates = context.debates
        self.store_dir = store_dir(self.config, context.data_dir)
        self.store = MatrixStore(self.store_dir)
        self.timeline_limit = TIMELINE_LIMIT
        self.sync_timeout_ms = SYNC_TIMEOUT_MS
        self.reconnect_min_delay = 0.5
        self.reconnect_max_delay = 30.0
        self.client: _Client | None = None
        self.queue: asyncio.Queue[_Batch] = asyncio.Queue()
        self.seen: SeenEvents | None = None
        self.closing = False
        self.password: str | None = None
        # Read by bot.health: the sync condition and the sync task.
        self._synced = asyncio.Condition()
        self._ready = asyncio.Event()
        self._sync_task: asyncio.Task[None] | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._cleanup_task: asyncio.Task[None] | None = None
        self.rooms = Rooms(self)
        self.sync = SyncLoop(self)
        self.worker = Worker(self)
        self.events = EventHandler(self)
        self.sender = Sender(self)
        self.forgetting = Forgetting(self)
        self.cross_signing = CrossSigning(self)
        self.undecryptable = Undecryptable(self)
        self.cross_signing.reset = reset_cross_signing
        # The client API's base URL: the configured one, or found from the server name.
        self.homeserver_url = self.config.homeserver

    # ------------------------------------------------------------------ start / stop

    async def start(self) -> None:
        """Log in, then sync in the background; returns once the first sync is handled."""
        # nio logs each member's account and DM room at INFO, and whole responses (a DM's text
        # next to its sender and event id) at DEBUG; peewee logs the crypto store's queries
        # with their parameters. bot.logs filters them too; this holds even where the process
        # installed no such handler (tests, embedding).
        for name in ("nio", "peewee"):
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() < logging.WARNING:
                logger.setLevel(logging.WARNING)
        self.homeserver_url = await resolve_homeserver(self.config.homeserver)
        self.store.lock()  # StoreBusy while another process has this device's store open
        try:
            await self._start_locked()
        except BaseException:
            await self._close_client()
            self.store.unlock()
            raise

    async def _start_locked(self) -> None:
        self._open_store()
        await self._login()
        client = self.require_client()
        await self._check_device_keys()
        if client.should_upload_keys:
            await check(client.keys_upload(), "keys upload")
        await self.cross_signing.ensure()
        await self.rooms.resolve_configured_aliases()
        self._start_tasks()
        try:
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            log.warning("the first Matrix sync is not done yet; carrying on in the background")
            return
        await self.rooms.join_configured_rooms()

    def _open_store(self) -> None:
        store = self.store
        store.prepare()
        self.seen = SeenEvents(store.seen_path)
        self.forgetting.state = CleanupState(store.cleanup_path)
        self.rooms.direct = store.load_direct()
        self.client = _Client(
            self.homeserver_url,
            self.config.user_id,
            store_path=str(self.store_dir),
            config=nio.AsyncClientConfig(
                max_limit_exceeded=0,
                max_timeouts=2,
                max_timeout_retry_wait_time=2,
                request_timeout=60,
                encryption_enabled=True,
                store_sync_tokens=False,
                pickle_key=store.pickle_key(),
            ),
        )
        self.client.max_rate_limit_wait = self.config.max_rate_limit_wait
        self.client.read_indexes = store.load_read_indexes()

    def _start_tasks(self) -> None:
        self.closing = False
        # A fresh queue: a batch (or the stop marker) left by an earlier run in this process
        # is replayed from the stored sync token instead.
        self.queue = asyncio.Queue()
        self._worker_task = asyncio.create_task(self.worker.run(), name="matrix-worker")
        self._sync_task = asyncio.create_task(self.sync.run(), name="matrix-sync")
        forgetting = self.forgetting
        forgetting.idle.clear()
        forgetting.wake.set()  # a sweep left pending by the last run resumes
        self._cleanup_task = asyncio.create_task(forgetting.run(), name="matrix-dm-cleanup")

    async def stop(self) -> None:
        self.closing = True
        if self._cleanup_task is not None:
            # An interrupted sweep stays pending in dm_cleanup.json and resumes at next start.
            await _cancel(self._cleanup_task)
            self._cleanup_task = None
        if self._sync_task is not None:
            await _cancel(self._sync_task)
            self._sync_task = None
        if self._worker_task is not None:
            # Let the event in hand finish; what is still queued is replayed at the next start.
            self.queue.put_nowait(_Batch(token=""))
            try:
                await asyncio.wait_for(asyncio.shield(self._worker_task), 5)
            except (TimeoutError, asyncio.CancelledError):
                await _cancel(self._worker_task)
            self._worker_task = None
        await self._close_client()
        self._ready.clear()
        self.store.unlock()

    async def _close_client(self) -> None:
        if self.client is not None and not self.client.closed:
            self.save_read_indexes()
            await self.client.close()

    def save_read_indexes(self) -> None:
        client = self.client
        if client is None or not client.read_indexes_changed:
            return
        client.read_indexes_changed = False
        self.store.save_read_indexes(client.read_indexes)

    # ------------------------------------------------------------------ login

    async def _login(self) -> None:
        token = os.environ.get(self.config.access_token_env or "") or None
        password = os.environ.get(self.config.password_env or "") or None
        self.password = password
        if token is not None:
            await self._token_login(token)
            return
        if password is None:
            raise MatrixError(
                f"set {self.config.access_token_env or 'an access token'} or "
                f"{self.config.password_env or 'a password'} in the environment"
            )
        client = self.require_client()
        session = self.store.load_session()
        if session.get("user_id") == self.config.user_id and session.get("device_id"):
            client.restore_login(
                self.config.user_id, str(session["device_id"]), str(session["access_token"])
            )
            who = await client.whoami()
            if isinstance(who, nio.WhoamiResponse):
                return
            log.info("the stored Matrix session is no longer valid; logging in again")
        await self.password_login()

    async def _token_login(self, token: str) -> None:
        client = self.require_client()
        client.access_token = token
        who = await client.whoami()
        if not isinstance(who, nio.WhoamiResponse) or not who.device_id:
            raise MatrixError(f"the access token was refused: {_error(who)}")
        if who.user_id != self.config.user_id:
            raise MatrixError(
                f"the access token belongs to {who.user_id}, not {self.config.user_id}"
            )
        client.restore_login(who.user_id, who.device_id, token)

    async def password_login(self) -> None:
        client = self.require_client()
        assert self.password is not None
        # With a device id set (restored session), the homeserver keeps that same device.
        response = await client.login(self.password, device_name=self.config.device_name)
        if not isinstance(response, nio.LoginResponse):
            raise MatrixError(f"password login failed: {_error(response)}")
        self.store.save_session(response.user_id, response.device_id, response.access_token)

    async def _check_device_keys(self) -> None:
        """Refuse to run a device whose keys on the homeserver are not this store's.

        Two stores for one device (two processes with their own store, or a store lost and
        the same access token reused) would each upload their own keys for it, and members'
        clients would stop trusting or decrypting the bot. The homeserver's copy is compared
        with this store's account before anything is uploaded.
        """
        client = self.require_client()
        olm = client.olm
        if olm is None:
            return
        device = str(client.device_id)
        status, body = await client.raw_json(
            "POST", "/_matrix/client/v3/keys/query", {"device_keys": {client.user_id: [device]}}
        )
        if status != 200:
            log.warning("the bot's own device keys could not be read (HTTP %s)", status)
            return
        published = body.get("device_keys", {}).get(client.user_id, {}).get(device)
        if not isinstance(published, dict):
            return  # a new device: this store's keys are uploaded next
        keys = published.get("keys", {})
        mine = olm.account.identity_keys.get("ed25519")
        if isinstance(keys, dict) and keys.get(f"ed25519:{device}") not in (None, mine):
            raise MatrixError(
                f"the homeserver holds other keys for the device {device} than the store in "
                f"{self.store_dir}: another store uses this device (give every process the same "
                "platforms.matrix.store_dir) or this one was lost (log in as a new device: a "
                "password login, or a new access token)"
            )

    def require_client(self) -> _Client:
        if self.client is None:
            raise MatrixError("the Matrix adapter is not started")
        return self.client

    @property
    def user_id(self) -> str:
        return str(self.require_client().user_id)

    # ------------------------------------------------------------------ waiting on syncs

    async def wait_synced(self, ready: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until ``ready()`` holds after some sync (True), or ``timeout`` (False)."""
        deadline = time.monotonic() + timeout
        async with self._synced:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):  # ready() is asked again below
                    await asyncio.wait_for(self._synced.wait(), remaining)
        return True

    async def next_sync(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait for the next sync, or ``timeout`` seconds, whichever comes first."""
        async with self._synced:
            with contextlib.suppress(TimeoutError):  # a timeout is an answer here
                await asyncio.wait_for(self._synced.wait(), max(0.0, timeout))

    # ------------------------------------------------------------------ ChatPort

    async def publish(self, channel: ChannelRef, post: RoundPost) -> None:
        log.debug("posting %s of round %s to %s", post.kind, post.round_id, channel)
        if post.kind in (PostKind.SUMMARY, PostKind.CLOSED):
            # Before sending: the DMs are cleared even if this room cannot be reached.
            self.forgetting.schedule(post)
        room_id = await self.rooms.room_id_for(channel)
        if post.kind == PostKind.PROGRESS:
            await self.sender.edit_announcement(room_id, post)
            return
        await self.sender.publish(room_id, post)

    async def moderates(self, user_id: str, channel: ChannelRef) -> bool:
        """Whether ``user_id`` moderates the round room ``channel`` (ModeratorCheck)."""
        return await self.rooms.moderates(user_id, channel)

    async def is_moderator(self, room: Any, user_id: str) -> bool:
        """Power level >= ``moderator_power_level`` in ``room``, or a creator of a v12+ room."""
        return await self.rooms.is_moderator(room, user_id)

    async def direct_room(self, user_id: str) -> str:
        """The member's DM with the bot: the known one, an existing one, or a new one."""
        return await self.rooms.direct_room(user_id)

    async def wait_dm_cleanup(self, timeout: float = 60.0) -> bool:  # noqa: ASYNC109
        """Wait until no DM sweep is owed (True), or for ``timeout`` seconds (False)."""
        return await self.forgetting.wait_idle(timeout)


def store_dir(config: MatrixConfig, data_dir: Path) -> Path:
    """Where the Matrix store is: ``platforms.matrix.store_dir`` (relative to ``data_dir``),
    by default ``data_dir/matrix``."""
    if config.store_dir is None:
        return data_dir / "matrix"
    return config.store_dir if config.store_dir.is_absolute() else data_dir / config.store_dir


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def with_cross_signing_reset(config: Config) -> dict[str, AdapterFactory]:
    """The config's adapters, the Matrix one replacing cross-signing keys it does not hold.

    For ``debate-bot run --reset-cross-signing``.
    """
    from bot.app import default_adapters

    factories = default_adapters(config)
    if "matrix" in factories:
        factories["matrix"] = partial(MatrixAdapter, reset_cross_signing=True)
    else:
        log.warning("--reset-cross-signing: Matrix is not enabled, there is nothing to reset")
    return factories
