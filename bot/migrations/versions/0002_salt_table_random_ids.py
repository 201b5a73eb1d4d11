"""Salts in a table of their own; random row ids for positions, arguments and votes.

Existing rows are rewritten with random ids in random order; closed rounds are re-keyed too
(their pseudonyms replaced by random tokens), so a salt recovered from an old backup matches
nothing. The storage scrub that follows every start removes the old bytes from the files.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NO_STATISTICS = (
    ("round_salt", "salt"),
    ("position", "participant"),
    ("argument", "author"),
    ("argument", "text"),
    ("vote", "voter"),
    ("round_summary", "data"),
)


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "round_salt",
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("round.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
    )
    conn.execute(
        sa.text(
            "INSERT INTO round_salt (round_id, salt) "
            "SELECT id, salt FROM round WHERE salt IS NOT NULL AND state = 'open'"
        )
    )
    with op.batch_alter_table("round") as batch:
        batch.drop_column("salt")
    if conn.dialect.name == "postgresql":
        # No sequence: the application assigns random ids.
        for name in ("position", "argument", "vote"):
            op.execute(f"ALTER TABLE {name} ALTER COLUMN id DROP DEFAULT")
            op.execute(f"ALTER TABLE {name} ALTER COLUMN id TYPE BIGINT")
            op.execute(f"DROP SEQUENCE IF EXISTS {name}_id_seq")
        op.execute("ALTER TABLE vote ALTER COLUMN argument_id TYPE BIGINT")
        # ANALYZE copies sampled values into pg_statistic, where they outlive the rows (and
        # no VACUUM of ours touches them): these columns get no statistics at all.
        for name, column in NO_STATISTICS:
            op.execute(f"ALTER TABLE {name} ALTER COLUMN {column} SET STATISTICS 0")

    from bot.erasure import rekey_round

    states = conn.execute(sa.text("SELECT id, state FROM round")).all()
    for round_id, state in states:
        rekey_round(conn, int(round_id), rename=state not in ("open", "scheduled"))


def downgrade() -> None:
    raise NotImplementedError("0002 rewrites every row with random ids: restore a backup instead")
