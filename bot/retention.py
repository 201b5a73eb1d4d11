"""How long finished rounds are kept: purged once older than the configured retention."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.engine import Connection

from bot import store
from bot.core import Core
from bot.erasure import scrub_storage

log = logging.getLogger(__name__)


async def purge(core: Core, older_than: timedelta, *, dry_run: bool = False) -> int:
    """Delete summarised or skipped rounds closed more than ``older_than`` ago."""
    cutoff = core.clock() - older_than

    def delete(conn: Connection) -> int:
        return store.purge_rounds(conn, cutoff, dry_run=dry_run)

    removed: int = await core.writer.call(delete)
    if removed and not dry_run:
        await core.db.on_writer(lambda: scrub_storage(core.db.engine))
        log.info("purged %d round(s) closed before %s", removed, cutoff)
    return removed


async def apply_retention(core: Core) -> int:
    if core.config.retention is None:
        return 0
    return await purge(core, core.config.retention)
