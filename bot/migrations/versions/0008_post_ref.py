"""The ids of the bot's own messages (announcements it edits, posts it sent), shared by every
process on the database instead of a file in each process's data directory.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_ref",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_post_ref_round_id", "post_ref", ["round_id"])


def downgrade() -> None:
    op.drop_index("ix_post_ref_round_id", table_name="post_ref")
    op.drop_table("post_ref")
