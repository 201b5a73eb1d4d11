"""Arguments carried over from an earlier round (``follow_up: true``): where from, and the
earlier round's published agreement on them, as JSON; NULL for members' arguments.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("argument") as batch:
        batch.add_column(sa.Column("carried_over", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("argument") as batch:
        batch.drop_column("carried_over")
