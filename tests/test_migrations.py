"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.models  # noqa: F401  (registers the tables on the metadata)
from bot.db import Database


def test_no_drift_between_models_and_migrations(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        db.close()
    assert diff == []


def test_a_model_change_without_migration_is_caught(db_url: str) -> None:
    """The check above can fail: a column the migrations do not create is reported."""
    import sqlalchemy as sa

    changed = sa.MetaData()
    for model_table in SQLModel.metadata.sorted_tables:
        model_table.to_metadata(changed)
    changed.tables["round_salt"].append_column(sa.Column("not_migrated", sa.Integer()))
    db = Database(db_url)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, changed)
    finally:
        db.close()
    assert any(op[0] == "add_column" and op[3].name == "not_migrated" for op in diff)


def test_processes_starting_together_migrate_one_after_the_other(db_url: str) -> None:
    """The bot and a `debate-bot rounds` beside it both migrate a fresh database at start;
    without a lock both find no alembic_version table and the second fails to create it."""
    import threading
    from pathlib import Path

    if db_url.startswith("sqlite"):
        Path(db_url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    dbs = [Database(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(dbs))
    errors: list[BaseException] = []

    def start(db: Database) -> None:
        barrier.wait()
        try:
            db.migrate()
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in dbs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for db in dbs:
            db.close()
    assert errors == []
