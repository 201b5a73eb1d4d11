"""Backups of the SQLite database with SQLite's online backup API.

The copy is consistent (one snapshot, taken page by page while the bot keeps writing), is
written 0600, and contains the database only: never the server secret, never the Matrix
store. Free pages are copied too, but ``secure_delete`` keeps them zeroed (see
:mod:`bot.erasure`).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.files import FILE_MODE, private_dir


@dataclass(frozen=True)
class BackupResult:
    size: int
    open_rounds: int


def sqlite_path(url: str) -> Path:
    if ":///" not in url:
        raise ValueError(f"not a SQLite file URL: {url}")
    return Path(url.split(":///", 1)[1])


def backup_database(url: str, output: Path) -> BackupResult:
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise FileNotFoundError(f"no database at {source_path}")
    private_dir(output.parent)
    tmp = output.with_name(output.name + ".tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)
            # A standalone file: no WAL beside it.
            target.execute("PRAGMA journal_mode=DELETE")
            (open_rounds,) = target.execute(
                "SELECT count(*) FROM round WHERE state = 'open'"
            ).fetchone()
        finally:
            target.close()
    finally:
        source.close()
    os.replace(tmp, output)
    return BackupResult(output.stat().st_size, int(open_rounds))
