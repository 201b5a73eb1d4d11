"""The moderation channel's queue and batches, and arguments held for approval.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("argument") as batch:
        batch.add_column(
            sa.Column("pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "moderation_queue",
        sa.Column("argument_id", ROW_ID, autoincrement=False, nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["argument_id"], ["argument.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("argument_id"),
    )
    op.create_index("ix_moderation_queue_round_id", "moderation_queue", ["round_id"])
    op.create_table(
        "moderation_batch",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("outbox_id"),
    )
    op.create_index("ix_moderation_batch_round_id", "moderation_batch", ["round_id"])


def downgrade() -> None:
    op.drop_index("ix_moderation_batch_round_id", table_name="moderation_batch")
    op.drop_table("moderation_batch")
    op.drop_index("ix_moderation_queue_round_id", table_name="moderation_queue")
    op.drop_table("moderation_queue")
    with op.batch_alter_table("argument") as batch:
        batch.drop_column("pending")
