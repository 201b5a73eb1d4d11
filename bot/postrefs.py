"""The ids of the bot's own messages, kept in the database for every process (``post_ref``).

An adapter keeps here what it must find again to edit an announcement or to avoid sending a
post twice: with several processes on one database the leader that delivers the next post
may not be the one that sent the last, and a restarted process must find them too. Keys are
the adapter's own (prefixed with its platform); values are public message ids. Rows go with
their round (purge, ``ON DELETE CASCADE``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import Database
from bot.models import table


class PostRefs:
    """One platform's message ids, by key (``<platform>:<key>`` in the table)."""

    def __init__(self, db: Database, platform: str) -> None:
        self.db = db
        self.prefix = f"{platform}:"

    async def get(self, key: str) -> str | None:
        t = table("post_ref")
        full = self.prefix + key

        def read(conn: Connection) -> str | None:
            found = conn.execute(sa.select(t.c.ref).where(t.c.key == full)).scalar()
            return None if found is None else str(found)

        return await self.db.read(read)

    async def put(self, round_id: int, key: str, ref: str) -> None:
        """Keep ``ref`` under ``key`` (replacing it), unless the round was purged meanwhile."""
        full = self.prefix + key
        await self.db.write(lambda conn: _replace(conn, round_id, full, ref))

    async def forget(self, key: str) -> None:
        t = table("post_ref")
        full = self.prefix + key
        await self.db.write(lambda conn: conn.execute(sa.delete(t).where(t.c.key == full)))

    async def import_all(self, entries: dict[tuple[int, str], str]) -> int:
        """Keep ``{(round id, key): ref}`` (from an older file), skipping purged rounds;
        how many were kept."""

        def write(conn: Connection) -> int:
            return sum(
                _replace(conn, round_id, self.prefix + key, ref)
                for (round_id, key), ref in entries.items()
            )

        return await self.db.write(write)


def _replace(conn: Connection, round_id: int, full: str, ref: str) -> bool:
    """Keep ``ref`` under the full key ``full``; False (nothing kept) if the round is gone."""
    r, t = table("round"), table("post_ref")
    if conn.execute(sa.select(r.c.id).where(r.c.id == round_id)).first() is None:
        return False
    conn.execute(sa.delete(t).where(t.c.key == full))
    conn.execute(sa.insert(t).values(key=full, round_id=round_id, ref=ref))
    return True
