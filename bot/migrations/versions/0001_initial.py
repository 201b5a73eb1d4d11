"""Initial schema: rounds, positions, arguments, votes, summaries, outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rounds()
    _answers()
    _outputs()


def _round_id() -> sa.Column[int]:
    """The column that ties a row to its round (deleted with it)."""
    return sa.Column(
        "round_id", sa.Integer(), sa.ForeignKey("round.id", ondelete="CASCADE"), nullable=False
    )


def _rounds() -> None:
    op.create_table(
        "round",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("debate_id", sa.String(100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(200), nullable=False),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("reminder_at", sa.DateTime(), nullable=True),
        sa.Column("reminder_sent", sa.Boolean(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=True),
        sa.Column("channels", sa.String(), nullable=False),
        sa.Column("opened_by", sa.String(16), nullable=False),
        sa.Column("progress_posted", sa.Integer(), nullable=False),
    )
    op.create_index("ix_round_debate_id", "round", ["debate_id"])
    op.create_index("ix_round_state", "round", ["state"])


def _answers() -> None:
    """Positions, arguments and votes."""
    op.create_table(
        "position",
        sa.Column("id", sa.Integer(), primary_key=True),
        _round_id(),
        sa.Column("participant", sa.String(64), nullable=False),
        sa.Column("stance", sa.String(64), nullable=False),
        sa.UniqueConstraint("round_id", "participant", name="uq_position"),
    )
    op.create_index("ix_position_round_id", "position", ["round_id"])
    op.create_table(
        "argument",
        sa.Column("id", sa.Integer(), primary_key=True),
        _round_id(),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("round_id", "number", name="uq_argument_number"),
    )
    op.create_index("ix_argument_round_id", "argument", ["round_id"])
    op.create_index("ix_argument_author", "argument", ["author"])
    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), primary_key=True),
        _round_id(),
        sa.Column(
            "argument_id",
            sa.Integer(),
            sa.ForeignKey("argument.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("voter", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.UniqueConstraint("argument_id", "voter", name="uq_vote"),
    )
    op.create_index("ix_vote_round_id", "vote", ["round_id"])
    op.create_index("ix_vote_argument_id", "vote", ["argument_id"])


def _outputs() -> None:
    """Stored summaries and the outbox of posts owed to channels."""
    op.create_table(
        "round_summary",
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("round.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        _round_id(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(300), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbox_round_id", "outbox", ["round_id"])
    op.create_index("ix_outbox_delivered", "outbox", ["delivered"])


def downgrade() -> None:
    for name in ("outbox", "round_summary", "vote", "argument", "position", "round"):
        op.drop_table(name)
