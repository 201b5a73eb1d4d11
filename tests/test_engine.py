"""The engine end to end through the console adapter, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.app import App
from bot.config import CronSchedule
from bot.lifecycle import Action
from bot.models import RoundState, table


def count(app: App, name: str, **where: Any) -> int:
    t = table(name)
    query = sa.select(sa.func.count()).select_from(t)
    for key, value in where.items():
        query = query.where(t.c[key] == value)
    return int(app.db.read_sync(lambda conn: conn.execute(query).scalar_one()))


async def say(app: App, line: str) -> str:
    console = app.adapters["console"]
    replies = await console.feed(line)  # type: ignore[attr-defined]
    return "\n".join(r.text for r in replies)


def recorded(app: App, stance: str) -> str:
    """The catalogue's confirmation of a stance in the open round (not a French substring:
    "enregistré" is also in the refusal "Rien n'a été enregistré")."""
    r = app.engine.open_rounds()[0]
    label = app.engine.stance_label(r.debate_id, stance)
    return app.engine.messages("position_recorded", stance=label, code=r.code)


async def open_round(app: App) -> int:
    reply = await say(app, "@alice !debat ouvrir capitalisme-numerique")
    assert "ouvert" in reply
    return max(r.id for r in app.engine.open_rounds())


async def test_whole_round_on_console(db_url: str, config_factory: Any, app_factory: Any) -> None:
    app, out = await app_factory(config_factory(database_url=db_url))
    round_id = await open_round(app)
    await app.publisher.deliver()
    announcement = out.getvalue()
    assert "[general] Débat « Le capitalisme numérique »" in announcement
    assert "Source : Progressive Alliance" in announcement

    r = app.engine.open_rounds()[0]
    first, second = r.stances[0], r.stances[1]
    assert recorded(app, first) in await say(app, f"@bob dm !position {first} Un argument pour.")
    assert recorded(app, second) in await say(
        app, f"@carol dm !position {second} Un argument contre."
    )
    await say(app, f"@dave dm !position {first}")
    await say(app, f"@erin dm !position {second} Encore un argument.")
    # Changing one's stance replaces it: still one position for erin.
    await say(app, f"@erin dm !position {first}")
    assert count(app, "position", round_id=round_id) == 4
    assert count(app, "argument", round_id=round_id) == 3

    # Results are not released while the round is open.
    assert "Synthèse" not in out.getvalue()

    for voter in ("bob", "carol", "dave", "erin"):
        prompt = await say(app, f"@{voter} dm !voter")
        while "Répondez" in prompt:
            prompt = await say(app, f"@{voter} dm 1")
        assert "tous les arguments" in prompt
    # Each of 4 voters votes on every argument but their own.
    assert count(app, "vote", round_id=round_id) == 4 * 3 - 3

    mine = await say(app, "@bob dm !ma-position")
    assert "Un argument pour." in mine

    reply = await say(app, "@alice !debat fermer")
    assert "fermé" in reply
    await app.publisher.deliver()
    text = out.getvalue()
    assert "[general] Synthèse du tour" in text
    assert "Participants : 4." in text
    info = await app.engine.round_info(round_id)
    assert info is not None and info.state == RoundState.SUMMARISED

    summary = await app.engine.summary(round_id)
    assert summary is not None
    tally = {row["stance"]: row["count"] for row in summary["tally"]}
    assert tally[first] == 3 and tally[second] == 1
    assert sorted(a["text"] for a in summary["arguments"]) == [
        "Encore un argument.",
        "Un argument contre.",
        "Un argument pour.",
    ]
    for arg in summary["arguments"]:
        assert arg["votes"] == 3 and arg["agree"] == 3

    exported = await say(app, "@alice !debat exporter json")
    assert "Export" in exported
    files = list((app.config.data_dir / "exports").glob("*.json"))
    assert files and json.loads(files[0].read_text())["round"]["id"] == round_id


async def test_bad_input_is_refused_and_changes_nothing(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(database_url=db_url))
    round_id = await open_round(app)
    stance = app.engine.open_rounds()[0].stances[0]
    await say(app, f"@bob dm !position {stance} Premier argument.")
    before = (count(app, "position"), count(app, "argument"), count(app, "vote"))

    assert "Position inconnue" in await say(app, "@bob dm !position peut-être")
    too_long = "x" * 1001
    assert "maximum est 1000" in await say(app, f"@bob dm !position {stance} {too_long}")
    assert "vide" in await say(app, f"@bob dm !position {stance} \u202e\u200b")
    assert "Aucun tour ouvert ne porte le code" in await say(app, "@bob dm !position ZZZZZ pour")
    assert "réservée aux modérateurs" in await say(app, "@bob !debat fermer")
    assert "Commande inconnue" in await say(app, "@bob dm !nimportequoi")
    assert "Durée invalide" in await say(app, "@alice !debat prolonger demain")
    assert (count(app, "position"), count(app, "argument"), count(app, "vote")) == before
    info = await app.engine.round_info(round_id)
    assert info is not None and info.state == RoundState.OPEN

    # Bidi overrides and control characters are stripped, the rest is kept.
    await say(app, f"@carol dm !position {stance} abc\u202edef\x07ghi")
    texts = app.db.read_sync(
        lambda conn: list(conn.execute(sa.select(table("argument").c.text)).scalars())
    )
    assert "abcdefghi" in texts

    # A closed round refuses politely.
    await say(app, "@alice !debat fermer")
    assert "Aucun tour de débat n'est ouvert" in await say(app, f"@bob dm !position {stance}")
    try:
        await app.engine.submit_position(round_id, "console", "bob", stance)
    except Exception as exc:
        assert getattr(exc, "key", None) == "round_closed"
    else:
        raise AssertionError("a closed round accepted a position")


async def test_rate_limit(db_url: str, config_factory: Any, app_factory: Any) -> None:
    app, _ = await app_factory(
        config_factory(database_url=db_url, limits={"actions_per_minute": 5})
    )
    await open_round(app)
    stance = app.engine.open_rounds()[0].stances[0]
    replies = [await say(app, f"@bob dm !position {stance}") for _ in range(7)]
    assert sum("Trop de demandes" in r for r in replies) == 2
    assert recorded(app, stance) in await say(app, f"@carol dm !position {stance}")


async def test_double_click_creates_one_position(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(database_url=db_url))
    round_id = await open_round(app)
    stances = app.engine.open_rounds()[0].stances
    await asyncio.gather(
        *(app.engine.submit_position(round_id, "discord", "42", stances[i % 2]) for i in range(20))
    )
    assert count(app, "position", round_id=round_id) == 1


async def test_withdraw_removes_everything(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(database_url=db_url))
    round_id = await open_round(app)
    stance = app.engine.open_rounds()[0].stances[0]
    await say(app, f"@bob dm !position {stance} Mon argument.")
    await say(app, f"@carol dm !position {stance} Le sien.")
    await say(app, "@bob dm !voter")
    await say(app, "@bob dm 1")
    await say(app, "@carol dm !voter")
    await say(app, "@carol dm 2")
    assert count(app, "vote", round_id=round_id) == 2
    assert "retirés" in await say(app, "@bob dm !retirer")
    assert count(app, "position", round_id=round_id) == 1
    assert count(app, "argument", round_id=round_id) == 1
    assert count(app, "vote", round_id=round_id) == 0
    assert "rien donné" in await say(app, "@bob dm !retirer")


async def test_positions_survive_a_restart(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = config_factory(database_url=db_url)
    app, _ = await app_factory(config, start=False)
    await app.start()
    round_id = await open_round(app)
    stance = app.engine.open_rounds()[0].stances[0]
    acknowledged = await asyncio.gather(
        *(app.engine.submit_position(round_id, "console", f"u{i}", stance) for i in range(50))
    )
    assert len(acknowledged) == 50
    await app.stop()

    again, _ = await app_factory(config)
    assert count(again, "position", round_id=round_id) == 50
    # The open round, its salt and its arguments come back: members carry on.
    mine = await again.engine.my_position(round_id, "console", "u7")
    assert mine.stance == stance
    await again.engine.submit_position(round_id, "console", "u7", stance, "Après redémarrage.")
    assert count(again, "position", round_id=round_id) == 50


async def test_transitions_happen_once_even_when_raced(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    from bot.db import Database
    from bot.engine import Engine

    config = config_factory(database_url=db_url)
    one, _ = await app_factory(config)
    round_id = await open_round(one)
    # A second engine on the same database (as another process would be) sees the round open.
    db = Database(config.resolved_database_url())
    two = Engine(config, db, one.packs, b"s" * 32)
    await two.start()
    results = await asyncio.gather(one.engine.close_round(round_id), two.close_round(round_id))
    await two.stop()
    db.close()
    assert sorted(results) == [False, True]
    assert count(one, "round_summary", round_id=round_id) == 1
    assert count(one, "outbox", round_id=round_id, kind="summary") == 1


async def test_downtime_recovery(db_url: str, config_factory: Any, app_factory: Any) -> None:
    """Rounds due while the bot was down: close+summarise, open late within grace, skip older."""
    config = config_factory(database_url=db_url, late_open_grace="1h")
    app, _ = await app_factory(config)
    engine = app.engine
    debate = config.debates[0]
    now = engine.clock()
    overdue = await engine._create_round(debate, now - timedelta(hours=2), "schedule")
    await engine.apply(overdue, Action.OPEN)
    late = await engine._create_round(debate, now - timedelta(minutes=30), "schedule")
    stale = await engine._create_round(debate, now - timedelta(hours=3), "schedule")

    def backdate(conn: sa.Connection) -> None:
        r = table("round")
        conn.execute(
            sa.update(r).where(r.c.id == overdue).values(closes_at=now - timedelta(minutes=1))
        )
        conn.execute(
            sa.update(r).where(r.c.id == stale).values(closes_at=now + timedelta(hours=1))
        )

    await app.db.write(backdate)
    await engine.reconcile()
    states = {r.id: r.state for r in await engine.list_rounds()}
    assert states[overdue] == RoundState.SUMMARISED
    assert states[late] == RoundState.OPEN
    assert states[stale] == RoundState.SKIPPED


async def test_reminder_and_extend(db_url: str, config_factory: Any, app_factory: Any) -> None:
    config = config_factory(database_url=db_url)
    debates = [
        config.debates[0].model_copy(update={"reminder_before_close": timedelta(minutes=10)})
    ]
    app, out = await app_factory(config.model_copy(update={"debates": debates}))
    round_id = await open_round(app)
    reply = await say(app, "@alice !debat prolonger 2h")
    assert "prolongé" in reply
    info = await app.engine.round_info(round_id)
    assert info is not None and info.closes_at - info.opens_at == timedelta(hours=3)
    # Jump to the reminder time.
    app.engine.clock = lambda: info.closes_at - timedelta(minutes=5)
    await app.engine.reconcile()
    await app.publisher.deliver()
    assert "Rappel : le tour" in out.getvalue()
    app.engine.clock = lambda: info.closes_at + timedelta(seconds=1)
    await app.engine.reconcile()
    again = await app.engine.round_info(round_id)
    assert again is not None and again.state == RoundState.SUMMARISED


async def test_one_process_per_data_directory(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    import pytest

    from bot.db import InstanceLockError

    config = config_factory(database_url=db_url)
    await app_factory(config)
    second, _ = await app_factory(config, start=False)
    with pytest.raises(InstanceLockError, match="already running"):
        await second.start()
    second.db.close()


async def test_one_process_per_sqlite_file_whatever_the_data_dir(
    tmp_path: Any, config_factory: Any, app_factory: Any
) -> None:
    from bot.db import InstanceLockError

    url = f"sqlite:///{tmp_path / 'shared' / 'debates.db'}"
    await app_factory(config_factory(database_url=url, data_dir=str(tmp_path / "one")))
    second, _ = await app_factory(
        config_factory(database_url=url, data_dir=str(tmp_path / "two")), start=False
    )
    with pytest.raises(InstanceLockError, match="on the database"):
        await second.start()
    second.db.close()


async def test_stances_by_id_alias_or_label(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(database_url=db_url))
    await open_round(app)
    r = app.engine.open_rounds()[0]
    english = {"pour": "for", "contre": "against", "nuance": "mixed", "abstention": "abstain"}
    for stance in r.stances:
        label = app.engine.stance_label(r.debate_id, stance)
        assert app.engine.parse_stance(r, stance) == stance
        assert app.engine.parse_stance(r, label.upper()) == stance
        if stance in english:
            assert app.engine.parse_stance(r, english[stance]) == stance


async def test_scheduler_closes_the_round_on_time(config_factory: Any, app_factory: Any) -> None:
    config = config_factory()
    debates = [config.debates[0].model_copy(update={"round_duration": timedelta(seconds=2)})]
    app, out = await app_factory(config.model_copy(update={"debates": debates}))
    round_id = await open_round(app)
    stance = app.engine.open_rounds()[0].stances[0]
    await say(app, f"@bob dm !position {stance}")
    for _ in range(100):
        info = await app.engine.round_info(round_id)
        if info is not None and info.state == RoundState.SUMMARISED:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the round was not closed by its scheduled job")
    for _ in range(50):
        if "Synthèse du tour" in out.getvalue():
            break
        await asyncio.sleep(0.1)
    assert "Synthèse du tour" in out.getvalue()
    # Too few participants for a breakdown: the tally is withheld.
    assert "Trop peu de participants" in out.getvalue()


async def test_scheduled_debate_gets_its_next_round(config_factory: Any, app_factory: Any) -> None:
    config = config_factory()
    debates = [config.debates[0].model_copy(update={"schedule": CronSchedule(cron="0 18 * * 1")})]
    app, _ = await app_factory(config.model_copy(update={"debates": debates}))
    rounds = await app.engine.list_rounds()
    assert len(rounds) == 1 and rounds[0].state == RoundState.SCHEDULED
    local = rounds[0].opens_at.replace(tzinfo=ZoneInfo("UTC"))
    local = local.astimezone(config.tz)
    assert (local.weekday(), local.hour, local.minute) == (0, 18, 0)
    # Restarting does not schedule it twice.
    await app.engine.ensure_scheduled()
    assert len(await app.engine.list_rounds()) == 1


async def test_an_early_close_records_the_real_close_time(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = config_factory(database_url=db_url)
    app, _ = await app_factory(config)
    info = await app.engine.open_round("capitalisme-numerique")
    assert info.closes_at - info.opens_at == timedelta(hours=1)
    await app.engine.close_round(info.id)
    closed = await app.engine.round_info(info.id)
    assert closed is not None
    assert closed.closes_at - info.opens_at < timedelta(minutes=1)
    summary = await app.engine.summary(info.id)
    assert (
        summary is not None and summary["round"]["closes_at"] == closed.closes_at.isoformat() + "Z"
    )
    # ...so that a purge sees its real age.
    app.engine.clock = lambda: closed.closes_at + timedelta(days=1, minutes=5)
    assert await app.engine.purge(timedelta(days=1)) == 1


async def closed_behind_the_cache(app: App) -> tuple[int, int]:
    """An open round with one argument, then closed in the database while this process still
    serves it: the next write into it reaches the database after the close (it lost the race).
    Returns the round's id and the argument's number."""
    info = await app.engine.open_round("capitalisme-numerique")
    r = app.engine.open_round_by_id(info.id)
    assert r is not None
    _, number = await app.engine.submit_position(r.id, "console", "bob", r.stances[0], "un avis")
    assert number is not None
    rounds = table("round")
    await app.db.write(
        lambda conn: conn.execute(
            sa.update(rounds).where(rounds.c.id == r.id).values(state=RoundState.CLOSED.value)
        )
    )
    assert app.engine.open_round_by_id(r.id) is r
    return r.id, number


async def test_a_hide_that_lost_the_race_with_the_close_is_refused_as_closed(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    from bot.engine import EngineError

    app, _ = await app_factory(config_factory(database_url=db_url))
    round_id, number = await closed_behind_the_cache(app)
    with pytest.raises(EngineError) as refused:
        await app.engine.set_hidden(round_id, number, True)
    assert refused.value.key == "round_closed"
    assert count(app, "argument", round_id=round_id, hidden=True) == 0
    r = app.engine.open_round_by_id(round_id)
    assert r is not None and not any(hidden for _, _, hidden in r.arguments.values())


async def test_an_extend_that_lost_the_race_with_the_close_is_refused_as_closed(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    from bot.engine import EngineError

    app, _ = await app_factory(config_factory(database_url=db_url))
    round_id, _ = await closed_behind_the_cache(app)
    before = await app.engine.round_info(round_id)
    assert before is not None
    with pytest.raises(EngineError) as refused:
        await app.engine.extend_round(round_id, timedelta(hours=2))
    assert refused.value.key == "round_closed"
    after = await app.engine.round_info(round_id)
    assert after is not None and after.closes_at == before.closes_at
    r = app.engine.open_round_by_id(round_id)
    assert r is not None and r.closes_at == before.closes_at


async def test_an_argument_number_given_by_another_process_is_not_given_again(
    db_url: str, config_factory: Any, app_factory: Any, monkeypatch: Any
) -> None:
    """Several processes each keep their own cache of a round's arguments: the number an
    argument gets is checked against the database in its own write."""
    import bot.participation as participation_module
    import bot.store as store_module

    app, _ = await app_factory(config_factory(database_url=db_url))
    info = await app.engine.open_round("capitalisme-numerique")
    # Another process stored n° 42, which this process's cache does not know.
    app.db.write_sync(
        lambda conn: store_module.insert_argument(conn, info.id, "elsewhere", 42, "ailleurs")
    )
    monkeypatch.setattr(
        participation_module, "_random_number", lambda taken: 43 if 42 in taken else 42
    )
    number = await app.engine.add_argument(info.id, "console", "bob", "le mien")
    assert number == 43
    assert count(app, "argument", round_id=info.id) == 2


async def test_a_stance_with_its_argument_is_one_transaction(
    db_url: str, config_factory: Any, app_factory: Any, monkeypatch: Any
) -> None:
    import bot.store as store_module
    from bot.engine import EngineError

    config = config_factory(database_url=db_url, limits={"arguments_per_participant": 2})
    app, _ = await app_factory(config)
    info = await app.engine.open_round("capitalisme-numerique")
    r = app.engine.open_round_by_id(info.id)
    assert r is not None
    first, second = r.stances[0], r.stances[1]

    # A failure between the stance and the argument leaves neither.
    calls = iter([1234567])

    def flaky_id() -> int:
        value = next(calls, None)
        if value is None:
            raise RuntimeError("disk full")
        return value

    monkeypatch.setattr(store_module, "random_id", flaky_id)
    with pytest.raises(RuntimeError):
        await app.engine.submit_position(r.id, "console", "bob", first, "un argument")
    monkeypatch.undo()
    assert count(app, "position", round_id=r.id) == 0
    assert count(app, "argument", round_id=r.id) == 0

    # Re-sending the same message stores it once and answers with the same number.
    _, number = await app.engine.submit_position(r.id, "console", "bob", first, "un argument")
    _, again = await app.engine.submit_position(r.id, "console", "bob", first, "un argument")
    assert number == again and count(app, "argument", round_id=r.id) == 1

    # At the quota, a refused argument leaves the stance as it was.
    await app.engine.add_argument(r.id, "console", "bob", "un autre")
    with pytest.raises(EngineError) as refused:
        await app.engine.submit_position(r.id, "console", "bob", second, "un troisième")
    assert refused.value.key == "too_many_arguments"
    mine = await app.engine.my_position(r.id, "console", "bob")
    assert mine.stance == first and len(mine.arguments) == 2
    # ...but re-sending one already stored is still answered with its number.
    _, same = await app.engine.submit_position(r.id, "console", "bob", first, "un argument")
    assert same == number


async def test_participants_positions_and_voters_are_counted_alike_everywhere(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    """A member who only votes takes part without a stance: `rounds`, the progress count and
    the summary all say 3 participants, 2 with a stance, 1 who voted."""
    app, _ = await app_factory(config_factory(database_url=db_url))
    round_id = await open_round(app)
    r = app.engine.open_rounds()[0]
    await say(app, f"@bob dm !position {r.stances[0]} Un argument pour.")
    await say(app, f"@carol dm !position {r.stances[1]} Un argument contre.")
    prompt = await say(app, "@dave dm !voter")
    while prompt.startswith("Argument n°"):
        prompt = await say(app, "@dave dm 1")
    info = await app.engine.round_info(round_id)
    assert info is not None
    assert (info.participants, info.positions, info.voters) == (3, 2, 1)
    assert await app.engine.participation(round_id) == 3
    assert info.to_json()["participants"] == 3 and info.to_json()["voters"] == 1
    await app.engine.close_round(round_id)
    summary = await app.engine.summary(round_id)
    assert summary is not None and (summary["participants"], summary["positions"]) == (3, 2)
    closed = await app.engine.round_info(round_id)
    assert closed is not None
    assert (closed.participants, closed.positions, closed.voters) == (3, 2, 1)
