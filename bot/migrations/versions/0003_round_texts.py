"""What a round asks, recorded with it: title, question, context, source, stances.

A round must read the same from its announcement to its summary even if its debate is
edited or removed from the config, or its pack changes, in between.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("title", "question", "context", "source", "stances")


def upgrade() -> None:
    with op.batch_alter_table("round") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("round") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
