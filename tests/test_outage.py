"""An outage gets an answer: the database fails or hangs, members and moderators are told.

Through the console adapter, on SQLite (writes refused by SQLite itself, a hung writer) and on
a real PostgreSQL outage. Every answer is private, comes within the budget, says "nothing was
recorded" only when the transaction raised, and the service resumes by itself afterwards
with nothing acknowledged lost.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest
import sqlalchemy as sa
from outage_support import pg_outage, read_only, stuck_writer

from bot.adapters import console as console_module
from bot.app import App
from bot.models import table

NOTHING = "rien n'a été enregistré"
UNCONFIRMED = "n'a pas pu être confirmée"
UNAVAILABLE = "momentanément indisponible"


def positions(app: App, round_id: int) -> dict[str, int]:
    p = table("position")
    rows = app.db.read_sync(
        lambda conn: conn.execute(
            sa.select(p.c.stance, sa.func.count())
            .where(p.c.round_id == round_id)
            .group_by(p.c.stance)
        ).all()
    )
    return {str(stance): int(n) for stance, n in rows}


async def say(app: App, line: str) -> tuple[str, float]:
    """The console's answer to ``line`` and how long it took."""
    console = app.adapters["console"]
    started = time.monotonic()
    replies = await console.feed(line)  # type: ignore[attr-defined]
    return "\n".join(r.text for r in replies), time.monotonic() - started


def recorded(app: App, stance: str) -> str:
    """The catalogue's confirmation of a stance in the open round (not a French substring:
    "enregistré" is also in the refusal "Rien n'a été enregistré")."""
    r = max(app.engine.open_rounds(), key=lambda r: r.id)
    label = app.engine.stance_label(r.debate_id, stance)
    return app.engine.messages("position_recorded", stance=label, code=r.code)


async def opened(app: App) -> tuple[int, str, str]:
    """Open a round: its id and two of its stances."""
    reply, _ = await say(app, "@alice !debat ouvrir capitalisme-numerique")
    assert "ouvert" in reply
    r = max(app.engine.open_rounds(), key=lambda r: r.id)
    return r.id, r.stances[0], r.stances[1]


async def test_sqlite_refusing_writes_answers_everyone_and_resumes(
    config_factory: Any, app_factory: Any
) -> None:
    app, out = await app_factory(config_factory())
    round_id, pour, contre = await opened(app)
    reply, _ = await say(app, f"@bob dm !position {pour} Un argument.")
    assert recorded(app, pour) in reply
    before = positions(app, round_id)

    with read_only(app.db):
        for line in (
            f"@carol dm !position {contre}",
            f"@carol dm !position {contre} Un argument de plus.",
            "@bob dm !retirer",
            "@alice !debat fermer",
            "@alice !debat prolonger 1h",
        ):
            reply, took = await say(app, line)
            assert NOTHING in reply, line
            assert took < app.engine.budget.write, line
        # Reads still work on a read-only database: the member sees what was kept.
        reply, _ = await say(app, "@bob dm !ma-position")
        assert "Un argument." in reply
        assert positions(app, round_id) == before

    # Nothing to restart: the same commands now succeed.
    reply, _ = await say(app, f"@carol dm !position {contre}")
    assert recorded(app, contre) in reply
    assert positions(app, round_id) == {pour: 1, contre: 1}
    reply, _ = await say(app, "@alice !debat fermer")
    assert "fermé" in reply
    # The answers went to the members privately, never to the channel.
    assert f"[general] {NOTHING}" not in out.getvalue()


async def test_a_hung_write_is_answered_as_unconfirmed_and_commits_later(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    app.engine.budget.write = 1.0
    round_id, _, contre = await opened(app)
    async with stuck_writer(app.db):
        reply, took = await say(app, f"@carol dm !position {contre}")
        # Not "nothing was recorded": the write is still queued and may commit later.
        assert UNCONFIRMED in reply and NOTHING not in reply
        assert "`!ma-position`" in reply
        assert 0.9 < took < 2.0
        reply, took = await say(app, "@alice !debat fermer")
        assert UNCONFIRMED in reply and took < 2.0
    # The writer came back: the unconfirmed stance was committed, and so was the close.
    # (The summary follows the close in a transaction of its own: wait for both.)
    deadline = time.monotonic() + 30
    info = await app.engine.round_info(round_id)
    while time.monotonic() < deadline and (info is None or info.state != "summarised"):
        await asyncio.sleep(0.05)
        info = await app.engine.round_info(round_id)
    assert positions(app, round_id) == {contre: 1}
    assert info is not None and info.state == "summarised"


async def test_a_commit_of_unknown_outcome_is_never_nothing_recorded(
    config_factory: Any, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a server database a COMMIT that fails may have happened: the answer says so."""
    from bot.outage import CommitUnknown

    app, _ = await app_factory(config_factory())
    _, _, contre = await opened(app)
    writer = app.engine.writer
    real = writer._execute

    def commit_then_fail(ops: list[Any]) -> list[Any]:
        real(ops)
        raise CommitUnknown()

    monkeypatch.setattr(writer, "_execute", commit_then_fail)
    reply, _ = await say(app, f"@carol dm !position {contre}")
    assert UNCONFIRMED in reply and NOTHING not in reply


async def test_one_stuck_console_line_does_not_hold_up_the_others(
    config_factory: Any, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_module, "ORDER_WAIT", 0.3)
    app, out = await app_factory(config_factory())
    app.engine.budget.write = 3.0
    _, _, contre = await opened(app)
    console = app.adapters["console"]
    assert isinstance(console, console_module.ConsoleAdapter)
    lines = io.StringIO(f"@carol dm !position {contre}\n@bob dm !aide\n@dave dm !ma-position\n")
    async with stuck_writer(app.db):
        started = time.monotonic()
        reader = asyncio.ensure_future(console.run(lines))
        while "[dm:dave]" not in out.getvalue():
            assert time.monotonic() - started < 2.0, "the other members waited for carol"
            await asyncio.sleep(0.02)
        assert "[dm:bob]" in out.getvalue()
        assert "[dm:carol]" not in out.getvalue()  # still waiting for the database
        await asyncio.wait_for(reader, 5)
    text = out.getvalue()
    assert text.index("[dm:dave]") < text.index("[dm:carol]")
    assert UNCONFIRMED in text[text.index("[dm:carol]") :]


@pytest.mark.postgres
async def test_postgresql_outage_answers_everyone_and_resumes(
    pg_url: str, config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(database_url=pg_url))
    round_id, pour, contre = await opened(app)
    reply, _ = await say(app, f"@bob dm !position {pour} Un argument.")
    assert recorded(app, pour) in reply
    with pg_outage(pg_url):
        for line in (
            f"@carol dm !position {contre}",
            f"@carol dm !position {contre} Un argument de plus.",
            "@bob dm !retirer",
            "@alice !debat fermer",
        ):
            reply, took = await say(app, line)
            assert NOTHING in reply, line
            assert took < app.engine.budget.write, line
        reply, took = await say(app, "@bob dm !ma-position")
        assert UNAVAILABLE in reply and NOTHING not in reply
        assert took < app.engine.budget.read
    # The database is back: service resumes without a restart, nothing acknowledged is lost.
    reply, _ = await say(app, "@bob dm !ma-position")
    assert "Un argument." in reply
    reply, _ = await say(app, f"@carol dm !position {contre}")
    assert recorded(app, contre) in reply
    assert positions(app, round_id) == {pour: 1, contre: 1}
    reply, _ = await say(app, "@alice !debat fermer")
    assert "fermé" in reply


# ---------------------------------------------------------------------- the bounded wait itself


async def test_the_bounded_wait_ends_at_the_first_of_result_checkpoint_and_budget() -> None:
    from bot.engine import EngineError
    from bot.outage import Budget, checkpoint, run_bounded

    budget = Budget(write=0.2, read=0.2, after_checkpoint=1.0)
    loop = asyncio.get_running_loop()

    async def quick() -> str:
        await asyncio.sleep(0.01)
        return "done"

    started = loop.time()
    assert await run_bounded(quick(), "write", budget) == "done"
    assert loop.time() - started < 0.15, "the result did not end the wait"

    # Past its checkpoint a use-case gets the longer budget: answered with its result.
    async def slow_after_checkpoint() -> str:
        await asyncio.sleep(0.05)
        checkpoint()
        await asyncio.sleep(0.4)
        return "closed"

    assert await run_bounded(slow_after_checkpoint(), "write", budget) == "closed"

    # A write over budget is answered as unconfirmed and left to finish; a read is abandoned.
    finished: list[str] = []

    async def hung(kind: str) -> None:
        await asyncio.sleep(0.5)
        finished.append(kind)

    for kind, code in (("write", "db_unconfirmed"), ("read", "db_unavailable_read")):
        started = loop.time()
        with pytest.raises(EngineError) as refused:
            await run_bounded(hung(kind), kind, budget)  # type: ignore[arg-type]
        assert refused.value.key == code
        assert 0.15 < loop.time() - started < 0.4
    await asyncio.sleep(0.6)
    assert finished == ["write"]
