"""The adapter's own files in ``data_dir/matrix`` (nio's crypto store lives there too).

Everything here is readable by the bot's user only (see :mod:`bot.files`): the sync token,
the login session, the pickle key, the event ids already acted on, the DM sweeps owed and the
Megolm read indexes. None of them links a member to a position.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.files import write_private
from bot.ports import HeldElsewhere

log = logging.getLogger(__name__)

SEEN_LIMIT = 10_000
CLEANUP_DONE_LIMIT = 1_000


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically, readable by the bot's user only."""
    write_private(path, text.encode("utf-8"))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.debug("no %s yet", path.name)
        return {}
    except (OSError, ValueError):
        log.warning("%s is unreadable; starting without it", path.name)
        return {}
    return data if isinstance(data, dict) else {}


class SeenEvents:
    """Recently acted-on event ids, in memory and in an append-only file.

    The file holds one event id per line and nothing else; it is compacted to the newest
    ``limit`` ids when it grows past twice that.
    """

    def __init__(self, path: Path, limit: int = SEEN_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lines = 0
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line:
                    self._ids[line] = None
                    self._lines += 1
            while len(self._ids) > limit:
                self._ids.popitem(last=False)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> bool:
        """Remember ``event_id`` (on disk before returning); False if it was already seen."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        if self._lines >= 2 * self.limit:
            _write_private(self.path, "".join(f"{e}\n" for e in self._ids))
            self._lines = len(self._ids)
            return True
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(event_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._lines += 1
        return True


class CleanupState:
    """Which closed rounds still owe a DM sweep, and which were swept (``dm_cleanup.json``).

    Round ids and opening times only (both are in the database already): nothing about a
    member. ``pending`` survives a restart, so a sweep interrupted by a stop is resumed;
    ``done`` makes a summary re-sent by the outbox (or re-published after a restart) a no-op.
    """

    def __init__(self, path: Path, done_limit: int = CLEANUP_DONE_LIMIT) -> None:
        self.path = path
        self.done_limit = done_limit
        data = _read_json(path)
        pending = data.get("pending")
        done = data.get("done")
        self.pending: dict[int, int] = {}
        if isinstance(pending, dict):
            for key, value in pending.items():
                try:
                    self.pending[int(key)] = int(value)
                except (TypeError, ValueError):
                    log.debug("%s: an unreadable pending entry was skipped", path.name)
        self.done: list[int] = []
        if isinstance(done, list):
            self.done = [int(d) for d in done if isinstance(d, int)]

    def schedule(self, round_id: int, since_ms: int) -> bool:
        """Owe a sweep for ``round_id`` back to ``since_ms``; False if it is owed or done."""
        if round_id in self.pending or round_id in self.done:
            return False
        self.pending[round_id] = since_ms
        self._save()
        return True

    def finish(self, round_ids: Iterable[int]) -> None:
        for round_id in round_ids:
            if self.pending.pop(round_id, None) is not None and round_id not in self.done:
                self.done.append(round_id)
        del self.done[: max(0, len(self.done) - self.done_limit)]
        self._save()

    def _save(self) -> None:
        pending = {str(k): v for k, v in self.pending.items()}
        _write_private(self.path, json.dumps({"pending": pending, "done": self.done}))


def _load_read_indexes(path: Path) -> dict[str, int]:
    return {str(k): int(v) for k, v in _read_json(path).items() if isinstance(v, int)}


class StoreBusy(HeldElsewhere):
    """Another process (or another adapter of this one) has the Matrix store open."""


class MatrixStore:
    """Paths and small files of the Matrix store (``data_dir/matrix`` unless configured).

    One device's keys and sessions must never be used by two clients at once: whoever opens
    the store holds an exclusive lock on its ``lock`` file (``flock``) until it closes it, and
    a second opener is refused with :class:`StoreBusy`. The kernel releases the lock when the
    holder dies, however it dies; a process that is only paused keeps it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Take the store's lock (create the directory first); :class:`StoreBusy` if held."""
        if self._lock_fd is not None:
            return
        self.prepare()
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreBusy(
                f"the Matrix store {self.directory} is in use by another process"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    @property
    def token_path(self) -> Path:
        return self.directory / "sync_token"

    @property
    def session_path(self) -> Path:
        return self.directory / "session.json"

    @property
    def direct_path(self) -> Path:
        return self.directory / "direct_rooms.json"

    @property
    def read_index_path(self) -> Path:
        return self.directory / "megolm_read_index.json"

    @property
    def cleanup_path(self) -> Path:
        return self.directory / "dm_cleanup.json"

    @property
    def seen_path(self) -> Path:
        return self.directory / "seen_events"

    def prepare(self) -> None:
        """Create the directory, readable by the bot's user only."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def load_token(self) -> str | None:
        try:
            token = self.token_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            log.debug("no sync token yet: the first sync is history")
            return None
        return token or None

    def save_token(self, token: str) -> None:
        _write_private(self.token_path, token + "\n")

    def load_direct(self) -> dict[str, str]:
        data = _read_json(self.direct_path)
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}

    def save_direct(self, direct: dict[str, str]) -> None:
        _write_private(self.direct_path, json.dumps(direct, indent=1, sort_keys=True))

    def load_read_indexes(self) -> dict[str, int]:
        return _load_read_indexes(self.read_index_path)

    def save_read_indexes(self, indexes: dict[str, int]) -> None:
        _write_private(self.read_index_path, json.dumps(indexes, sort_keys=True))

    def load_session(self) -> dict[str, Any]:
        return _read_json(self.session_path)

    def save_session(self, user_id: str, device_id: str, access_token: str) -> None:
        session = {"user_id": user_id, "device_id": device_id, "access_token": access_token}
        _write_private(self.session_path, json.dumps(session))

    def pickle_key(self) -> str:
        path = self.directory / "pickle_key"
        if not path.exists():
            _write_private(path, secrets.token_urlsafe(32))
        return path.read_text(encoding="utf-8").strip()
