"""Database tables.

Positions, arguments and votes know a participant only by a per-round pseudonym (see
:mod:`bot.anonymity`) and carry no timestamp: the time of a submission could be matched
against a chat log to re-identify its author. Their ids are random (:func:`random_id`), not
sequential, for the same reason: an id that follows submission order names its author to
anyone who knows in which order members answered. All times stored are UTC without tzinfo.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# SQLite: only a column declared exactly INTEGER PRIMARY KEY is the rowid (64-bit already).
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_RANDOM_ID = {"autoincrement": False}


# The author of an argument carried over from an earlier round's summary (``follow_up``): it is
# nobody's. Pseudonyms (bot.anonymity) and the tokens of closed rounds (bot.erasure) are 32
# lowercase hex digits; this holds a dash and letters past f, so it can never equal one.
CARRIED_OVER = "carried-over"


def random_id() -> int:
    """A row id that carries no order: uniformly random in [1, 2**62]."""
    return secrets.randbelow(2**62) + 1


class RoundState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    SUMMARISED = "summarised"
    SKIPPED = "skipped"


class Round(SQLModel, table=True):
    """One question asked to the channels of a debate for a fixed time."""

    __tablename__ = "round"
    id: int | None = Field(default=None, primary_key=True)
    debate_id: str = Field(index=True, max_length=100)
    seq: int = 0
    question_id: str = Field(max_length=200)
    code: str = Field(unique=True, max_length=16)
    state: str = Field(default=RoundState.SCHEDULED, index=True, max_length=16)
    opens_at: datetime = Field(sa_type=sa.DateTime())
    closes_at: datetime = Field(sa_type=sa.DateTime())
    reminder_at: datetime | None = Field(default=None, sa_type=sa.DateTime())
    reminder_sent: bool = False
    channels: str = ""  # newline-separated "platform:channel"
    opened_by: str = Field(default="schedule", max_length=16)  # schedule | moderator
    progress_posted: int = 0  # participation count last published in a PROGRESS post
    # What the round asks, as announced (see bot.engine.RoundTexts); "" on rounds from before.
    title: str = Field(default="", sa_type=sa.Text)
    question: str = Field(default="", sa_type=sa.Text)
    context: str = Field(default="", sa_type=sa.Text)
    source: str = Field(default="", sa_type=sa.Text)
    stances: str = Field(default="", sa_type=sa.Text)  # "id<TAB>label" lines


class RoundSalt(SQLModel, table=True):
    """The salt of an open round, in a table of its own so that erasing it is a DELETE.

    Deleted in the transaction that closes the round; the storage is then scrubbed (see
    :mod:`bot.erasure`) so that the bytes leave the database files too.
    """

    __tablename__ = "round_salt"
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", primary_key=True)
    salt: bytes = Field(sa_type=sa.LargeBinary)


class Position(SQLModel, table=True):
    """A participant's stance in a round; one per participant per round."""

    __tablename__ = "position"
    __table_args__ = (sa.UniqueConstraint("round_id", "participant", name="uq_position"),)
    id: int = Field(sa_type=RowId, primary_key=True, sa_column_kwargs=_RANDOM_ID)
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", index=True)
    participant: str = Field(max_length=64)
    stance: str = Field(max_length=64)


class Argument(SQLModel, table=True):
    """An anonymous argument (a "statement" in Polis terms) others can vote on."""

    __tablename__ = "argument"
    __table_args__ = (sa.UniqueConstraint("round_id", "number", name="uq_argument_number"),)
    id: int = Field(sa_type=RowId, primary_key=True, sa_column_kwargs=_RANDOM_ID)
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", index=True)
    author: str = Field(max_length=64, index=True)
    # Public handle shown to members and moderators; random, so it reveals no order.
    number: int
    text: str = Field(sa_type=sa.Text)
    hidden: bool = False
    # Held for a moderator's approval (``moderation: pre``): not put to the vote until then.
    pending: bool = False
    # Carried over from an earlier round (author CARRIED_OVER): that round's code, the number
    # and list its summary gave the argument, and its published vote counts there, as JSON
    # (bot.summary.model.CarriedFrom). NULL for members' arguments.
    carried_over: str | None = Field(default=None, sa_type=sa.Text)


class Vote(SQLModel, table=True):
    """Agree (+1), disagree (-1) or pass (0) on an argument."""

    __tablename__ = "vote"
    __table_args__ = (sa.UniqueConstraint("argument_id", "voter", name="uq_vote"),)
    id: int = Field(sa_type=RowId, primary_key=True, sa_column_kwargs=_RANDOM_ID)
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", index=True)
    argument_id: int = Field(
        sa_type=RowId, foreign_key="argument.id", ondelete="CASCADE", index=True
    )
    voter: str = Field(max_length=64)
    value: int


class PendingVote(SQLModel, table=True):
    """The argument a member was last asked to vote on, so that their typed answer still
    applies after a restart. By pseudonym, like every row of a round; deleted when the round
    closes."""

    __tablename__ = "pending_vote"
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", primary_key=True)
    participant: str = Field(max_length=64, primary_key=True)
    argument_id: int = Field(sa_type=RowId, foreign_key="argument.id", ondelete="CASCADE")


class ModerationQueue(SQLModel, table=True):
    """An argument not yet posted to its debate's moderation channel.

    Only the round and the argument: no time, no author, and the key is the argument's own
    random id, so the rows say nothing of the order arguments came in. Emptied into one
    shuffled batch at each tick (see :meth:`bot.moderation.Moderation.post_batches`); the
    rows of a round are deleted when it closes.
    """

    __tablename__ = "moderation_queue"
    argument_id: int = Field(
        sa_type=RowId,
        foreign_key="argument.id",
        ondelete="CASCADE",
        primary_key=True,
        sa_column_kwargs=_RANDOM_ID,
    )
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", index=True)


class ModerationBatch(SQLModel, table=True):
    """The arguments of one moderation post owed (its outbox row), in their shuffled order.

    Read when the post is delivered; deleted with the round's other rows when it closes.
    """

    __tablename__ = "moderation_batch"
    outbox_id: int = Field(foreign_key="outbox.id", ondelete="CASCADE", primary_key=True)
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", index=True)
    arguments: str = Field(sa_type=sa.Text)  # argument ids, space-separated, shuffled


class RoundSummary(SQLModel, table=True):
    """The published result of a closed round, as JSON."""

    __tablename__ = "round_summary"
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", primary_key=True)
    data: str = Field(sa_type=sa.Text)


class Outbox(SQLModel, table=True):
    """Posts the core owes to a channel; delivered (and retried) by the dispatcher."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=16)
    channel: str = Field(max_length=300)
    delivered: bool = Field(default=False, index=True)
    attempts: int = 0
    created_at: datetime = Field(sa_type=sa.DateTime())
    last_error: str | None = Field(default=None, sa_type=sa.Text)


class PostRef(SQLModel, table=True):
    """Ids of the bot's own messages that it edits or must not send twice (an announcement, a
    message of a post already sent), by the adapter's key, so that every process sharing the
    database (and a restarted one) finds them. Public message ids, never member data; deleted
    with their round."""

    __tablename__ = "post_ref"
    key: str = Field(max_length=300, primary_key=True)
    round_id: int = Field(foreign_key="round.id", ondelete="CASCADE", index=True)
    ref: str = Field(max_length=200)


class LeaderLease(SQLModel, table=True):
    """Which process leads (runs the scheduler and the outbox), under which epoch, until when.

    One row per lease (``main``). ``holder`` names a process for operators (host, pid and a
    random token); ``epoch`` grows at every change of holder and fences every transition and
    outbox claim; ``expires_at`` is the database's clock (with time zone), never a process's.
    """

    __tablename__ = "leader_lease"
    name: str = Field(max_length=32, primary_key=True)
    holder: str = Field(max_length=200)
    epoch: int = Field(sa_type=sa.BigInteger())
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


def table(name: str) -> sa.Table:
    """The Core table behind a model, for bulk statements on the hot path."""
    return SQLModel.metadata.tables[name]
