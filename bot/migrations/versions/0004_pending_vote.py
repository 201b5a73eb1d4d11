"""The argument each member is asked to vote on, kept by pseudonym across a restart.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pending_vote",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("participant", sa.String(length=64), nullable=False),
        sa.Column("argument_id", ROW_ID, nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["argument_id"], ["argument.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("round_id", "participant"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Like every pseudonym column: no sampled values kept in pg_statistic by ANALYZE.
        op.execute("ALTER TABLE pending_vote ALTER COLUMN participant SET STATISTICS 0")


def downgrade() -> None:
    op.drop_table("pending_vote")
