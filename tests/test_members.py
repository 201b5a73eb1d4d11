"""Members and moderators on the console, played as people would: what each one sees."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import App
from bot.engine import OpenRound
from bot.i18n import Messages
from bot.models import table
from bot.usecases.answers import vote_value

FR = Messages("fr")
EN = Messages("en")


async def say(app: App, line: str) -> str:
    console = app.adapters["console"]
    replies = await console.feed(line)  # type: ignore[attr-defined]
    return "\n".join(r.text for r in replies)


def votes(app: App) -> list[int]:
    t = table("vote")
    return list(app.db.read_sync(lambda conn: conn.execute(sa.select(t.c.value)).scalars().all()))


async def open_one(app: App) -> OpenRound:
    """The round a moderator opens on the console."""
    await say(app, "@alice !debat ouvrir capitalisme-numerique")
    return app.engine.open_rounds()[-1]


async def round_with_two_arguments(app: App) -> None:
    r = await open_one(app)
    await say(app, f"@bob dm !position {r.stances[0]} Premier argument.")
    await say(app, f"@carol dm !position {r.stances[1]} Second argument.")


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("1", 1),
        ("2", -1),
        ("3", 0),
        ("oui", 1),
        ("Non", -1),
        ("passer", 0),
        ("yes", 1),
        ("no", -1),
        ("skip", 0),
        ("D'accord", 1),
        ("pas d’accord", -1),
        ("AGREE", 1),
        ("disagree", -1),
        ("pass", 0),
        ("passer.", 0),
        ("👍", 1),
        ("⏭️", 0),
    ],
)
def test_vote_answers_in_either_language(answer: str, value: int) -> None:
    assert vote_value(answer) == value


@pytest.mark.parametrize("letter", ["d", "p", "n", "D", "a", "o", "y", "x", "peut-être"])
def test_no_single_letter_is_a_vote(letter: str) -> None:
    assert vote_value(letter) is None


async def test_prompt_shows_the_numbers_and_a_letter_records_nothing(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    await round_with_two_arguments(app)
    prompt = await say(app, "@bob dm !voter")
    assert "`1`" in prompt and "`2`" in prompt and "`3`" in prompt
    # "d" once meant agree in French and reads as disagree in English: now it is refused.
    for unreadable in ("d", "p", "n", "peut-être"):
        assert await say(app, f"@bob dm {unreadable}") == FR("vote_unreadable")
    assert votes(app) == []
    # The vote is still waiting: a number answers it.
    assert FR("vote_none_left") in await say(app, "@bob dm 2")
    assert votes(app) == [-1]


async def test_words_vote_in_english(config_factory: Any, app_factory: Any) -> None:
    app, _ = await app_factory(config_factory(language="en"))
    await round_with_two_arguments(app)
    prompt = await say(app, "@carol dm !voter")
    assert "`1` (agree)" in prompt
    assert await say(app, "@carol dm d") == EN("vote_unreadable")
    assert EN("vote_none_left") in await say(app, "@carol dm agree")
    assert votes(app) == [1]


async def test_an_answer_with_no_vote_waiting_is_told_so(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    await round_with_two_arguments(app)
    # Before: "Commande inconnue : 1".
    assert await say(app, "@bob dm 1") == FR("vote_no_pending")
    assert votes(app) == []


def stance_rows(app: App) -> list[str]:
    t = table("position")
    return list(app.db.read_sync(lambda conn: conn.execute(sa.select(t.c.stance)).scalars().all()))


def argument_texts(app: App) -> list[str]:
    t = table("argument")
    return list(app.db.read_sync(lambda conn: conn.execute(sa.select(t.c.text)).scalars().all()))


def one_question(config_factory: Any, question: str) -> Any:
    """The test config with its debate asking only ``question`` of the bundled pack."""
    debate = {
        "id": "capitalisme-numerique",
        "title": "Le capitalisme numérique",
        "pack": "progressive-alliance-2018",
        "questions": [question],
        "schedule": {"manual": True},
        "round_duration": "1h",
        "channels": [{"platform": "console", "channel": "general"}],
    }
    return config_factory(debates=[debate])


@pytest.mark.parametrize(
    ("typed", "argument"),
    [
        ("Le profit, évidemment.", "évidemment."),
        ("le PROFIT évidemment", "évidemment"),
        ("1 évidemment", "évidemment"),
        ("profit évidemment", "évidemment"),
        ("Profit évidemment", "évidemment"),  # the English label
    ],
)
async def test_a_stance_by_number_id_or_whole_label(
    config_factory: Any, app_factory: Any, typed: str, argument: str
) -> None:
    app, _ = await app_factory(config_factory())
    r = await open_one(app)
    assert r.stances[0] == "profit"
    reply = await say(app, f"@bob dm !position {typed}")
    assert FR("position_recorded", stance="Le profit", code=r.code) in reply
    assert stance_rows(app) == ["profit"]
    assert argument_texts(app) == [argument]


async def test_a_label_is_never_split_into_the_argument(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(one_question(config_factory, "numerisation-justice-2"))
    r = await open_one(app)
    # Before: the stance "fracture" with the argument "numérique, clairement".
    reply = await say(app, "@bob dm !position Fracture numérique, clairement")
    assert FR("position_recorded", stance="Fracture numérique", code=r.code) in reply
    assert argument_texts(app) == ["clairement"]
    await say(app, "@carol dm !position fracture")
    assert stance_rows(app) == ["fracture", "fracture"]


async def test_an_unknown_stance_is_refused_with_this_rounds_numbered_stances(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    r = await open_one(app)
    numbered = app.engine.numbered_stances(r)
    assert numbered.startswith("`1` Le profit (`profit`)\n`2` Les personnes (`personnes`)")
    # Before: "Position inconnue : « Le »", and the README's "pour" is not a stance here.
    for typed in ("Le", "pour Un argument", "9 trop loin"):
        reply = await say(app, f"@bob dm !position {typed}")
        word = typed.split()[0]
        assert reply == FR("unknown_stance", stance=word, choices=numbered)
    assert await say(app, "@bob dm !position") == FR("missing_stance", choices=numbered)
    assert stance_rows(app) == [] and argument_texts(app) == []


async def test_the_announcement_numbers_this_rounds_stances(
    config_factory: Any, app_factory: Any
) -> None:
    app, out = await app_factory(config_factory())
    await say(app, "@alice !debat ouvrir capitalisme-numerique")
    await app.publisher.deliver()
    assert "1 Le profit (profit)\n2 Les personnes (personnes)" in out.getvalue()


async def test_two_rounds_open_each_code_with_its_question(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    await say(app, "@alice !debat ouvrir capitalisme-numerique")
    await say(app, "@alice !debat ouvrir capitalisme-numerique")
    rounds = sorted(app.engine.open_rounds(), key=lambda r: r.code)
    assert len(rounds) == 2
    codes = "\n".join(
        f"`{r.code}` — {app.engine.question_text(r.debate_id, r.question_id)}" for r in rounds
    )
    reply = await say(app, "@bob dm !position 1")
    assert reply == FR("ambiguous_round", codes=codes)


async def test_help_before_a_round_lists_no_default_stances(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    helped = await say(app, "@bob dm !aide")
    # Before: the default "pour, contre, nuance, abstention", stances of no round.
    assert helped == FR("help") + "\n\n" + FR("help_no_round")


async def test_help_lists_each_open_round_with_its_question_and_stances(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(language="en"))
    await say(app, "@alice !debat ouvrir capitalisme-numerique")
    await say(app, "@alice !debat ouvrir capitalisme-numerique")
    rounds = app.engine.open_rounds()
    where = "\n\n".join(
        EN(
            "help_round",
            code=r.code,
            question=app.engine.question_text(r.debate_id, r.question_id),
            stances=app.engine.numbered_stances(r),
        )
        for r in rounds
    )
    assert await say(app, "@bob dm !help") == EN("help") + "\n\n" + where
    # A moderator also sees theirs, with the English verbs (which work).
    moderator = await say(app, "@alice dm !help")
    assert moderator == EN("help") + "\n\n" + where + "\n\n" + EN("help_moderator")
    assert "`!debate close [code]`" in EN("help_moderator")
    assert "ouvrir" not in EN("help_moderator")
    closed = await say(app, f"@alice !debate close {rounds[0].code}")
    assert closed == EN("round_closing", code=rounds[0].code)


async def test_moderators_list_the_arguments_and_hide_by_those_numbers(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    r = await open_one(app)
    for n in range(12):
        await say(app, f"@member{n} dm !position 1 Argument {n:02d}.")
    numbers = sorted(num for num, _, _ in r.arguments.values())
    assert len(numbers) == 12
    # Before: no command listed them, so "!debat masquer 1" answered "no argument n° 1".
    listed = await say(app, "@alice dm !debat arguments")
    assert listed.startswith(FR("moderation_list_title", code=r.code, page=1, pages=2))
    assert [line.split(" — ")[0] for line in listed.splitlines()[1:11]] == [
        f"• n° {n}" for n in numbers[:10]
    ]
    assert listed.endswith(FR("moderation_list_more", code=r.code, next=2))
    assert await say(app, f"@alice dm !debat masquer {numbers[0]}") == FR(
        "argument_hidden", number=numbers[0]
    )
    listed = await say(app, f"@alice dm !debat arguments {r.code} 1")
    assert f"• n° {numbers[0]} {FR('moderation_list_hidden')} — " in listed
    second = await say(app, f"@alice !debat arguments {r.code} 2")
    assert len(second.splitlines()) == 3
    # Members are refused like anyone without rights, and learn nothing of the texts.
    assert await say(app, "@bob dm !debat arguments") == FR("not_moderator")


async def test_an_export_asked_in_the_channel_goes_to_the_moderator_alone(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory())
    r = await open_one(app)
    await say(app, "@alice !debat fermer")
    await app.publisher.deliver()
    console = app.adapters["console"]
    replies = await console.feed(f"@alice !debat exporter md {r.code}")
    assert [reply.visibility.value for reply in replies] == ["private"]
    assert replies[0].text == FR("export_ready", code=r.code, format="md")


def pending_rows(app: App) -> list[tuple[str, int]]:
    t = table("pending_vote")
    rows = app.db.read_sync(
        lambda conn: conn.execute(sa.select(t.c.participant, t.c.argument_id)).all()
    )
    return [(str(p), int(a)) for p, a in rows]


async def test_a_pending_vote_survives_a_restart(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = config_factory(database_url=db_url)
    app, _ = await app_factory(config)
    await round_with_two_arguments(app)
    await say(app, "@dave dm !position 3")
    assert "`1`" in await say(app, "@bob dm !voter")
    assert "`1`" in await say(app, "@dave dm !voter")
    # Kept by pseudonym, never by account.
    kept = pending_rows(app)
    assert len(kept) == 2 and not {p for p, _ in kept} & {"bob", "dave", "console:bob"}
    await app.stop()

    app, _ = await app_factory(config)
    # Before: "Commande inconnue : d" and the vote lost.
    assert FR("vote_none_left") in await say(app, "@bob dm oui")
    assert votes(app) == [1]
    # The answer applied, dave's next prompt is waiting; it is still kept.
    assert "`1`" in await say(app, "@dave dm 3")
    assert await say(app, "@bob dm 1") == FR("vote_no_pending")
    assert len(pending_rows(app)) == 1
    await app.stop()

    app, _ = await app_factory(config)
    assert FR("vote_none_left") in await say(app, "@dave dm 2")
    assert sorted(votes(app)) == [-1, 0, 1]
    assert "`1`" in await say(app, "@carol dm !voter")
    assert pending_rows(app) != []
    # The round's close deletes what was kept with its other pseudonymous rows.
    await say(app, "@alice !debat fermer")
    assert pending_rows(app) == []
    assert await say(app, "@carol dm 1") == FR("round_closed")
    assert await say(app, "@carol dm 1") == FR("vote_no_pending")
