"""Every query the engine makes, as functions over a :class:`Connection`.

Reads return frozen rows (never SQLAlchemy rows); writes return what the caller needs to know
(whether a conditional update applied, the id of what was inserted). Nothing here decides
anything: the use-cases in :mod:`bot.participation`, :mod:`bot.rounds`, :mod:`bot.moderation`
and :mod:`bot.retention` do, and run these on the reader pool or inside the group writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.leader import Fence, fence_clause
from bot.lifecycle import RoundTimes
from bot.models import CARRIED_OVER, RoundState, random_id, table
from bot.summary.model import ArgumentRow as CollectedArgument
from bot.summary.model import CarriedFrom, RoundData, Summary

if TYPE_CHECKING:
    from bot.core import RoundTexts


@dataclass(frozen=True)
class RoundRow:
    """A row of ``round``."""

    id: int
    debate_id: str
    seq: int
    question_id: str
    code: str
    state: str
    opens_at: datetime
    closes_at: datetime
    reminder_at: datetime | None
    reminder_sent: bool
    channels: str  # newline-separated "platform:channel"
    opened_by: str
    progress_posted: int
    title: str
    question: str
    context: str
    source: str
    stances: str  # "id<TAB>label" lines

    @classmethod
    def of(cls, row: Any) -> RoundRow:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    @property
    def channel_list(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels.split("\n") if c)


@dataclass(frozen=True)
class ArgumentRow:
    id: int
    number: int
    author: str
    text: str
    hidden: bool
    pending: bool = False  # held for a moderator's approval
    carried: CarriedFrom | None = None  # where a carried-over argument comes from


@dataclass(frozen=True)
class OpenRoundRow:
    """An open round with its salt and its arguments, as the open-round cache needs it."""

    round: RoundRow
    salt: bytes
    arguments: tuple[ArgumentRow, ...]


@dataclass(frozen=True)
class ListedRound:
    """A round with its three counts, as its summary gives them: the people who took part
    in any way (a stance, an argument or a vote), those who took a stance, those who voted."""

    round: RoundRow
    participants: int
    positions: int = 0
    voters: int = 0


@dataclass(frozen=True)
class OutboxRow:
    id: int
    round_id: int
    kind: str
    channel: str
    attempts: int


def _argument(row: Any) -> ArgumentRow:
    carried: CarriedFrom | None = json.loads(row.carried_over) if row.carried_over else None
    return ArgumentRow(
        int(row.id),
        int(row.number),
        row.author,
        row.text,
        bool(row.hidden),
        bool(row.pending),
        carried,
    )


# ---------------------------------------------------------------------- rounds


def open_rounds(conn: Connection) -> list[OpenRoundRow]:
    r, a, salts = table("round"), table("argument"), table("round_salt")
    rows = conn.execute(
        sa.select(r, salts.c.salt)
        .select_from(r.join(salts, salts.c.round_id == r.c.id))
        .where(r.c.state == RoundState.OPEN.value)
    ).all()
    return [
        OpenRoundRow(
            RoundRow.of(row),
            row.salt,
            tuple(_argument(x) for x in conn.execute(sa.select(a).where(a.c.round_id == row.id))),
        )
        for row in rows
    ]


def round_by_id(conn: Connection, round_id: int) -> RoundRow | None:
    r = table("round")
    row = conn.execute(sa.select(r).where(r.c.id == round_id)).one_or_none()
    return None if row is None else RoundRow.of(row)


def round_id_by_code(conn: Connection, code: str) -> int | None:
    r = table("round")
    found = conn.execute(sa.select(r.c.id).where(r.c.code == code.upper())).scalar()
    return None if found is None else int(found)


def code_taken(conn: Connection, code: str) -> bool:
    r = table("round")
    return conn.execute(sa.select(r.c.id).where(r.c.code == code)).first() is not None


def insert_round(conn: Connection, values: dict[str, Any]) -> int:
    pk = conn.execute(sa.insert(table("round")).values(**values)).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def list_rounds(
    conn: Connection, debate_id: str | None = None, round_id: int | None = None
) -> list[ListedRound]:
    r, p, v = table("round"), table("position"), table("vote")
    people = _people().subquery()
    stances = sa.select(p.c.round_id, sa.func.count().label("n")).group_by(p.c.round_id)
    voting = sa.select(v.c.round_id, sa.func.count(sa.distinct(v.c.voter)).label("n")).group_by(
        v.c.round_id
    )
    stance_counts, voter_counts = stances.subquery(), voting.subquery()
    query = (
        sa.select(
            r,
            people.c.n.label("participants"),
            stance_counts.c.n.label("positions"),
            voter_counts.c.n.label("voters"),
        )
        .select_from(
            r.outerjoin(people, people.c.round_id == r.c.id)
            .outerjoin(stance_counts, stance_counts.c.round_id == r.c.id)
            .outerjoin(voter_counts, voter_counts.c.round_id == r.c.id)
        )
        .order_by(r.c.opens_at, r.c.id)
    )
    if debate_id is not None:
        query = query.where(r.c.debate_id == debate_id)
    if round_id is not None:
        query = query.where(r.c.id == round_id)
    return [
        ListedRound(
            RoundRow.of(row),
            int(row.participants or 0),
            int(row.positions or 0),
            int(row.voters or 0),
        )
        for row in conn.execute(query)
    ]


def _people(round_id: int | None = None) -> sa.Select[Any]:
    """Per round, how many people took part: a stance, an argument or a vote (each once)."""
    p, a, v = table("position"), table("argument"), table("vote")
    parts = [
        sa.select(p.c.round_id, p.c.participant.label("who")),
        # A carried-over argument is nobody's: its author marker is not a person.
        sa.select(a.c.round_id, a.c.author.label("who")).where(a.c.carried_over.is_(None)),
        sa.select(v.c.round_id, v.c.voter.label("who")),
    ]
    if round_id is not None:
        parts = [part.where(part.selected_columns.round_id == round_id) for part in parts]
    who = sa.union(*parts).subquery()
    return sa.select(who.c.round_id, sa.func.count().label("n")).group_by(who.c.round_id)


def participation(conn: Connection, round_id: int) -> int:
    """How many people took part in the round so far (as its summary will count them)."""
    found = conn.execute(_people(round_id)).first()
    return 0 if found is None else int(found.n)


def previous_summary(conn: Connection, debate_id: str, round_id: int) -> Summary | None:
    """The summary of the debate's most recent summarised round other than ``round_id``
    (None when there is none: a first round, or the earlier ones purged)."""
    r, s = table("round"), table("round_summary")
    data = conn.execute(
        sa.select(s.c.data)
        .select_from(r.join(s, s.c.round_id == r.c.id))
        .where(
            r.c.debate_id == debate_id,
            r.c.id != round_id,
            r.c.state == RoundState.SUMMARISED.value,
        )
        .order_by(r.c.closes_at.desc(), r.c.id.desc())
        .limit(1)
    ).scalar()
    if data is None:
        return None
    loaded: Summary = json.loads(data)
    return loaded


def latest_summarised(conn: Connection, channel: str | None) -> int | None:
    """The last round summarised (posted in ``channel`` if given)."""
    r = table("round")
    query = (
        sa.select(r.c.id, r.c.channels)
        .where(r.c.state == RoundState.SUMMARISED.value)
        .order_by(r.c.closes_at.desc(), r.c.id.desc())
    )
    for row in conn.execute(query):
        if channel is None or channel in row.channels.split("\n"):
            return int(row.id)
    return None


def active_round_times(conn: Connection) -> list[RoundTimes]:
    r = table("round")
    active = (RoundState.SCHEDULED.value, RoundState.OPEN.value, RoundState.CLOSED.value)
    rows = conn.execute(sa.select(r).where(r.c.state.in_(active))).all()
    return [
        RoundTimes(
            id=x.id,
            state=RoundState(x.state),
            opens_at=x.opens_at,
            closes_at=x.closes_at,
            reminder_at=x.reminder_at,
            reminder_sent=bool(x.reminder_sent),
        )
        for x in rows
    ]


def scheduled_rounds(conn: Connection) -> list[RoundRow]:
    r = table("round")
    rows = conn.execute(sa.select(r).where(r.c.state == RoundState.SCHEDULED.value))
    return [RoundRow.of(row) for row in rows]


def last_scheduled_openings(conn: Connection) -> dict[str, datetime]:
    """Per debate, the latest opening of a scheduled round that left the scheduled state."""
    r = table("round")
    done = conn.execute(
        sa.select(r.c.debate_id, sa.func.max(r.c.opens_at))
        .where(r.c.opened_by == "schedule", r.c.state != RoundState.SCHEDULED.value)
        .group_by(r.c.debate_id)
    )
    return {str(debate_id): opened for debate_id, opened in done}


def schedule_state(conn: Connection, debate_id: str) -> tuple[bool, datetime | None]:
    """Whether the debate has a scheduled round pending, and its latest scheduled opening."""
    r = table("round")
    pending = conn.execute(
        sa.select(r.c.id).where(
            r.c.debate_id == debate_id,
            r.c.state == RoundState.SCHEDULED.value,
            r.c.opened_by == "schedule",
        )
    ).first()
    last = conn.execute(
        sa.select(sa.func.max(r.c.opens_at)).where(
            r.c.debate_id == debate_id, r.c.opened_by == "schedule"
        )
    ).scalar()
    return pending is not None, last


def question_history(conn: Connection, debate_id: str) -> tuple[list[str], int]:
    """The questions the debate's rounds asked (skipped ones aside), and its next ``seq``."""
    r = table("round")
    used = [
        row.question_id
        for row in conn.execute(
            sa.select(r.c.question_id, r.c.seq)
            .where(r.c.debate_id == debate_id, r.c.state != RoundState.SKIPPED.value)
            .order_by(r.c.seq)
        )
    ]
    last = conn.execute(sa.select(sa.func.max(r.c.seq)).where(r.c.debate_id == debate_id))
    return used, (last.scalar() or 0) + 1


def update_scheduled_round(conn: Connection, round_id: int, values: dict[str, Any]) -> bool:
    r = table("round")
    res = conn.execute(
        sa.update(r)
        .where(r.c.id == round_id, r.c.state == RoundState.SCHEDULED.value)
        .values(**values)
    )
    return bool(res.rowcount == 1)


def transition(
    conn: Connection,
    round_id: int,
    source: RoundState,
    target: RoundState,
    *,
    ended_at: datetime | None = None,
    reminder: bool = False,
    fence: Fence | None = None,
) -> bool:
    """Move a round from ``source`` to ``target`` if it is still in ``source``.

    ``ended_at`` records an early close (a close time after it becomes it); ``reminder``
    applies only if the reminder was not sent yet, and marks it sent. With a ``fence``, only
    while that leader's epoch holds the lease (checked in the same statement).
    """
    r = table("round")
    where = [r.c.id == round_id, r.c.state == source.value]
    if fence is not None:
        where.append(fence_clause(conn, fence))
    values: dict[str, Any] = {"state": target.value}
    if ended_at is not None:
        values["closes_at"] = sa.case((r.c.closes_at > ended_at, ended_at), else_=r.c.closes_at)
    if reminder:
        where.append(r.c.reminder_sent.is_(False))
        values["reminder_sent"] = True
    res = conn.execute(sa.update(r).where(*where).values(**values))
    return bool(res.rowcount == 1)


def extend_round(conn: Connection, round_id: int, closes_at: datetime, delta: timedelta) -> None:
    """Set the close; the reminder moves by ``delta`` with it (and is to be sent again)."""
    rt = table("round")
    row = conn.execute(
        sa.select(rt.c.reminder_at, rt.c.closes_at).where(rt.c.id == round_id)
    ).one()
    values: dict[str, Any] = {"closes_at": closes_at}
    if row.reminder_at is not None:
        values["reminder_at"] = row.reminder_at + delta
        values["reminder_sent"] = False
    conn.execute(sa.update(rt).where(rt.c.id == round_id).values(**values))


def record_progress(conn: Connection, round_id: int, count: int) -> bool:
    """Note the participation last published; False if it was already that."""
    rt = table("round")
    res = conn.execute(
        sa.update(rt)
        .where(rt.c.id == round_id, rt.c.progress_posted != count)
        .values(progress_posted=count)
    )
    return bool(res.rowcount == 1)


# ---------------------------------------------------------------------- salts


def insert_salt(conn: Connection, round_id: int, salt: bytes) -> None:
    conn.execute(sa.insert(table("round_salt")).values(round_id=round_id, salt=salt))


def delete_salt(conn: Connection, round_id: int) -> None:
    salts = table("round_salt")
    conn.execute(sa.delete(salts).where(salts.c.round_id == round_id))


# ---------------------------------------------------------------------- members


def set_stance(conn: Connection, round_id: int, participant: str, stance: str) -> None:
    p = table("position")
    changed = conn.execute(
        sa.update(p)
        .where(p.c.round_id == round_id, p.c.participant == participant)
        .values(stance=stance)
    ).rowcount
    if not changed:
        conn.execute(
            sa.insert(p).values(
                id=random_id(), round_id=round_id, participant=participant, stance=stance
            )
        )


def stance_of(conn: Connection, round_id: int, participant: str) -> str | None:
    p = table("position")
    stance = conn.execute(
        sa.select(p.c.stance).where(p.c.round_id == round_id, p.c.participant == participant)
    ).scalar()
    return None if stance is None else str(stance)


def arguments_by(conn: Connection, round_id: int, author: str) -> list[ArgumentRow]:
    """An author's arguments in a round, by number."""
    a = table("argument")
    rows = conn.execute(
        sa.select(a).where(a.c.round_id == round_id, a.c.author == author).order_by(a.c.number)
    )
    return [_argument(row) for row in rows]


def insert_argument(
    conn: Connection,
    round_id: int,
    author: str,
    number: int,
    text: str,
    *,
    pending: bool = False,
    carried_over: str | None = None,
) -> int:
    arg_id = random_id()
    conn.execute(
        sa.insert(table("argument")).values(
            id=arg_id,
            round_id=round_id,
            author=author,
            number=number,
            text=text,
            hidden=False,
            pending=pending,
            carried_over=carried_over,
        )
    )
    return arg_id


def insert_carried(
    conn: Connection, round_id: int, number: int, text: str, origin: CarriedFrom
) -> ArgumentRow:
    """Store an argument carried over from an earlier round: nobody's (author
    :data:`~bot.models.CARRIED_OVER`), with where it comes from."""
    carried = json.dumps(origin, ensure_ascii=False, sort_keys=True)
    arg_id = insert_argument(conn, round_id, CARRIED_OVER, number, text, carried_over=carried)
    return ArgumentRow(arg_id, number, CARRIED_OVER, text, False, False, origin)


def round_arguments(conn: Connection, round_id: int) -> list[ArgumentRow]:
    """Every argument of a round, by number."""
    a = table("argument")
    rows = conn.execute(sa.select(a).where(a.c.round_id == round_id).order_by(a.c.number))
    return [_argument(row) for row in rows]


def argument(conn: Connection, argument_id: int) -> ArgumentRow:
    a = table("argument")
    return _argument(conn.execute(sa.select(a).where(a.c.id == argument_id)).one())


def argument_numbers(conn: Connection, round_id: int) -> set[int]:
    """The public numbers of a round's arguments, as stored (every process's)."""
    a = table("argument")
    return set(conn.execute(sa.select(a.c.number).where(a.c.round_id == round_id)).scalars())


def set_hidden(conn: Connection, argument_id: int, hidden: bool) -> None:
    a = table("argument")
    conn.execute(sa.update(a).where(a.c.id == argument_id).values(hidden=hidden))


def approve_argument(conn: Connection, argument_id: int) -> bool:
    """Release an argument held for approval; False if it was not held (or is hidden)."""
    a = table("argument")
    res = conn.execute(
        sa.update(a)
        .where(a.c.id == argument_id, a.c.pending.is_(True), a.c.hidden.is_(False))
        .values(pending=False)
    )
    return bool(res.rowcount == 1)


def voted_arguments(conn: Connection, round_id: int, voter: str) -> set[int]:
    v = table("vote")
    rows = conn.execute(
        sa.select(v.c.argument_id).where(v.c.round_id == round_id, v.c.voter == voter)
    )
    return {int(x) for x in rows.scalars()}


def set_pending_vote(
    conn: Connection, round_id: int, participant: str, argument_id: int | None
) -> None:
    """Remember the argument a member is asked to vote on (None: none any more)."""
    t = table("pending_vote")
    conn.execute(sa.delete(t).where(t.c.round_id == round_id, t.c.participant == participant))
    if argument_id is not None:
        conn.execute(
            sa.insert(t).values(
                round_id=round_id, participant=participant, argument_id=argument_id
            )
        )


def pending_vote(conn: Connection, round_id: int, participant: str) -> int | None:
    """The argument this member was last asked to vote on in this round, if any."""
    t = table("pending_vote")
    found = conn.execute(
        sa.select(t.c.argument_id).where(t.c.round_id == round_id, t.c.participant == participant)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def delete_pending_votes(conn: Connection, round_id: int) -> None:
    t = table("pending_vote")
    conn.execute(sa.delete(t).where(t.c.round_id == round_id))


def delete_participant(conn: Connection, round_id: int, participant: str) -> int:
    """Delete a participant's stance, arguments and votes (and the votes on their arguments)."""
    p, a, v = table("position"), table("argument"), table("vote")
    own = sa.select(a.c.id).where(a.c.round_id == round_id, a.c.author == participant)
    w = table("pending_vote")
    conn.execute(
        sa.delete(w).where(
            w.c.round_id == round_id,
            sa.or_(w.c.participant == participant, w.c.argument_id.in_(own)),
        )
    )
    q = table("moderation_queue")
    conn.execute(sa.delete(q).where(q.c.round_id == round_id, q.c.argument_id.in_(own)))
    n = conn.execute(
        sa.delete(v).where(
            v.c.round_id == round_id,
            sa.or_(v.c.voter == participant, v.c.argument_id.in_(own)),
        )
    ).rowcount
    n += conn.execute(
        sa.delete(a).where(a.c.round_id == round_id, a.c.author == participant)
    ).rowcount
    n += conn.execute(
        sa.delete(p).where(p.c.round_id == round_id, p.c.participant == participant)
    ).rowcount
    return int(n)


# ---------------------------------------------------------------------- moderation channel


def queue_for_moderation(conn: Connection, round_id: int, argument_id: int) -> None:
    """Queue a new argument for the next batch of its debate's moderation channel."""
    conn.execute(
        sa.insert(table("moderation_queue")).values(argument_id=argument_id, round_id=round_id)
    )


def take_moderation_queue(conn: Connection, round_id: int) -> list[int]:
    """The round's queued argument ids, the queue emptied (in the caller's transaction)."""
    q = table("moderation_queue")
    ids = [
        int(x)
        for x in conn.execute(sa.select(q.c.argument_id).where(q.c.round_id == round_id)).scalars()
    ]
    if ids:
        conn.execute(sa.delete(q).where(q.c.round_id == round_id))
    return ids


def insert_moderation_batch(
    conn: Connection, round_id: int, channel: str, argument_ids: list[int], created_at: datetime
) -> int:
    """Owe ``channel`` one moderation post of these arguments, in this order; its outbox id."""
    pk = conn.execute(
        sa.insert(table("outbox")).values(
            round_id=round_id,
            kind="moderation",
            channel=channel,
            delivered=False,
            attempts=0,
            created_at=created_at,
        )
    ).inserted_primary_key
    assert pk is not None
    outbox_id = int(pk[0])
    conn.execute(
        sa.insert(table("moderation_batch")).values(
            outbox_id=outbox_id,
            round_id=round_id,
            arguments=" ".join(str(i) for i in argument_ids),
        )
    )
    return outbox_id


def moderation_batch(conn: Connection, outbox_id: int) -> list[ArgumentRow] | None:
    """The arguments of a moderation post, in its order (those since withdrawn left out)."""
    b, a = table("moderation_batch"), table("argument")
    ids = conn.execute(sa.select(b.c.arguments).where(b.c.outbox_id == outbox_id)).scalar()
    if ids is None:
        return None
    wanted = [int(x) for x in str(ids).split()]
    rows = {
        int(row.id): _argument(row) for row in conn.execute(sa.select(a).where(a.c.id.in_(wanted)))
    }
    return [rows[i] for i in wanted if i in rows]


def delete_moderation_rows(conn: Connection, round_id: int) -> None:
    """A closing round posts nothing more to the moderation channel."""
    for name in ("moderation_queue", "moderation_batch"):
        t = table(name)
        conn.execute(sa.delete(t).where(t.c.round_id == round_id))


# ---------------------------------------------------------------------- summaries


def insert_summary(conn: Connection, round_id: int, payload: str) -> None:
    conn.execute(sa.insert(table("round_summary")).values(round_id=round_id, data=payload))


def load_summary(conn: Connection, round_id: int) -> Summary | None:
    s = table("round_summary")
    data = conn.execute(sa.select(s.c.data).where(s.c.round_id == round_id)).scalar()
    if data is None:
        return None
    loaded: Summary = json.loads(data)
    return loaded


def collect(
    conn: Connection,
    round_id: int,
    round_texts: Callable[[RoundRow], RoundTexts],
    lang: str,
    min_group_size: int,
) -> RoundData | None:
    """Everything a summary rests on (no pseudonym leaves this function)."""
    r, p, a, v = table("round"), table("position"), table("argument"), table("vote")
    found = conn.execute(sa.select(r).where(r.c.id == round_id)).one_or_none()
    if found is None or found.state != RoundState.CLOSED.value:
        return None
    row = RoundRow.of(found)
    positions = {
        x.participant: x.stance for x in conn.execute(sa.select(p).where(p.c.round_id == round_id))
    }
    # An argument no moderator approved (``moderation: pre``) was never put to anyone: it is
    # left out of the summary and its exports, as if it had not been written.
    arguments = conn.execute(
        sa.select(a).where(a.c.round_id == round_id, a.c.pending.is_(False))
    ).all()
    votes = conn.execute(
        sa.select(v.c.argument_id, v.c.voter, v.c.value).where(v.c.round_id == round_id)
    ).all()
    texts = round_texts(row)
    # Pseudonyms are replaced by opaque per-summary indexes before the data leaves here.
    aliases: dict[str, str] = {}
    authors = [x.author for x in arguments if x.carried_over is None]
    for name in list(positions) + authors + [x.voter for x in votes]:
        aliases.setdefault(name, f"p{len(aliases)}")
    return {
        "round": {
            "id": row.id,
            "code": row.code,
            "debate_id": row.debate_id,
            "debate_title": texts.title,
            "question_id": row.question_id,
            "question": texts.question,
            "context": texts.context,
            "source": texts.source,
            "opens_at": row.opens_at.isoformat() + "Z",
            "closes_at": row.closes_at.isoformat() + "Z",
        },
        "language": lang,
        "stances": [s for s, _ in texts.stances],
        "stance_labels": dict(texts.stances),
        "min_group_size": min_group_size,
        "positions": {aliases[k]: s for k, s in positions.items()},
        "arguments": [_collected_argument(x, aliases) for x in arguments],
        "votes": [[x.argument_id, aliases[x.voter], int(x.value)] for x in votes],
        "seed": row.id,
    }


def _collected_argument(row: Any, aliases: dict[str, str]) -> CollectedArgument:
    """One argument for the summary: its author's alias, or no author and where it comes
    from for an argument carried over from an earlier round."""
    out: CollectedArgument = {
        "id": row.id,
        "number": row.number,
        "text": row.text,
        "author": "" if row.carried_over else aliases[row.author],
        "hidden": bool(row.hidden),
    }
    if row.carried_over:
        out["carried_over"] = json.loads(row.carried_over)
    return out


# ---------------------------------------------------------------------- outbox


def round_channels(conn: Connection, round_id: int) -> list[str]:
    r = table("round")
    channels = conn.execute(sa.select(r.c.channels).where(r.c.id == round_id)).scalar_one()
    return [c for c in channels.split("\n") if c]


def insert_outbox(
    conn: Connection, round_id: int, kind: str, channels: Iterable[str], created_at: datetime
) -> None:
    rows = [
        {
            "round_id": round_id,
            "kind": kind,
            "channel": c,
            "delivered": False,
            "attempts": 0,
            "created_at": created_at,
        }
        for c in channels
    ]
    if rows:
        conn.execute(sa.insert(table("outbox")), rows)


def pending_outbox(conn: Connection) -> list[OutboxRow]:
    o = table("outbox")
    rows = conn.execute(sa.select(o).where(o.c.delivered.is_(False)).order_by(o.c.id))
    return [OutboxRow(row.id, row.round_id, row.kind, row.channel, row.attempts) for row in rows]


def begin_delivery(
    conn: Connection, outbox_id: int, attempts: int, fence: Fence | None = None
) -> bool:
    """Claim a post for one delivery attempt; False if it is no longer this caller's to send.

    It applies only if the row is still undelivered with ``attempts`` as read, and, with a
    ``fence``, only while that leader's epoch holds the lease (in the same statement).
    """
    o = table("outbox")
    where = [o.c.id == outbox_id, o.c.delivered.is_(False), o.c.attempts == attempts]
    if fence is not None:
        where.append(fence_clause(conn, fence))
    res = conn.execute(sa.update(o).where(*where).values(attempts=o.c.attempts + 1))
    return bool(res.rowcount == 1)


def mark_delivery(conn: Connection, outbox_id: int, delivered: bool, error: str | None) -> None:
    o = table("outbox")
    conn.execute(
        sa.update(o).where(o.c.id == outbox_id).values(delivered=delivered, last_error=error)
    )


# ---------------------------------------------------------------------- retention


def purge_rounds(conn: Connection, cutoff: datetime, *, dry_run: bool) -> int:
    """Delete summarised or skipped rounds that closed before ``cutoff``; how many matched."""
    r = table("round")
    ids = list(
        conn.execute(
            sa.select(r.c.id).where(
                r.c.closes_at < cutoff,
                r.c.state.in_([RoundState.SUMMARISED.value, RoundState.SKIPPED.value]),
            )
        ).scalars()
    )
    if ids and not dry_run:
        for name in (
            "moderation_queue",
            "moderation_batch",
            "pending_vote",
            "vote",
            "argument",
            "position",
            "round_summary",
            "post_ref",
            "outbox",
            "round_salt",
        ):
            t = table(name)
            conn.execute(sa.delete(t).where(t.c.round_id.in_(ids)))
        conn.execute(sa.delete(r).where(r.c.id.in_(ids)))
    return len(ids)
