"""Rounds that build on each other (``follow_up: true``), end to end through the console.

Round 1 is played by two camps of members: three arguments everyone agrees with, three each
camp agrees with and the other rejects, and one argument a moderator hides. Its summary lists
common ground and what divides; round 2 opens with those arguments, carried over (nobody's,
marked), the members vote on them, and round 2's summary says how agreement moved. The raw
tables of round 2 are searched for every name round 1's members had.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot import store
from bot.anonymity import new_salt, pseudonym
from bot.app import App
from bot.config import ConfigError, load_config
from bot.erasure import new_token
from bot.i18n import Messages
from bot.models import CARRIED_OVER, RoundState, table
from bot.summary.carry import MAX_CARRIED_COMMON_GROUND, MAX_CARRIED_DIVISIVE
from bot.summary.export import render_summary_text
from bot.summary.model import Summary
from bot.text import escape_markdown

FR = Messages("fr")
CAMP_A = [f"a{i}" for i in range(8)]
CAMP_B = [f"b{i}" for i in range(8)]
SHARED = [
    "Les écoles doivent apprendre à lire les algorithmes.",
    "Les données de santé ne se vendent pas.",
    "Un service public doit rester joignable sans ordinateur.",
]
FOR_A = [
    "Il faut taxer les plateformes au chiffre d'affaires.",
    "Les livreurs doivent être salariés.",
    "Les monopoles du numérique doivent être démantelés.",
]
FOR_B = [
    "La régulation fera fuir les entreprises.",
    "Le statut d'indépendant protège la liberté des livreurs.",
    "Le marché corrige seul les monopoles.",
]
HIDDEN = "Un argument que la modération masque avant le vote."
# Who writes what in round 1: each text once, by a member of the camp that agrees with it.
AUTHORS = {
    "a0": SHARED[0],
    "b0": SHARED[1],
    "a1": SHARED[2],
    "a2": FOR_A[0],
    "a3": FOR_A[1],
    "a4": FOR_A[2],
    "b1": FOR_B[0],
    "b2": FOR_B[1],
    "b3": FOR_B[2],
    "a5": HIDDEN,
}


def debate(follow_up: bool) -> dict[str, Any]:
    return {
        "id": "capitalisme-numerique",
        "title": "Le capitalisme numérique",
        "pack": "progressive-alliance-2018",
        "schedule": {"manual": True},
        "round_duration": "1h",
        "follow_up": follow_up,
        "channels": [{"platform": "console", "channel": "general"}],
    }


async def say(app: App, line: str) -> str:
    replies = await app.adapters["console"].feed(line)  # type: ignore[attr-defined]
    return "\n".join(r.text for r in replies)


def quoted(prompt: str) -> str:
    """The argument a vote prompt quotes (one line)."""
    return prompt.split("\n> ", 1)[1].split("\n", 1)[0]


async def vote_through(app: App, user: str, answer: Any) -> list[str]:
    """``user`` votes on every argument offered, ``answer(text)`` giving 1, 2 or 3; the
    prompts they saw."""
    texts = {escape_markdown(t): t for t in [*SHARED, *FOR_A, *FOR_B, HIDDEN]}
    prompts = []
    prompt = await say(app, f"@{user} dm !voter")
    while "Répondez" in prompt:
        prompts.append(prompt)
        shown = quoted(prompt)
        prompt = await say(app, f"@{user} dm {answer(texts.get(shown, shown))}")
    assert FR("vote_none_left") in prompt
    return prompts


def camp_answer(user: str) -> Any:
    own, other = (FOR_A, FOR_B) if user.startswith("a") else (FOR_B, FOR_A)

    def answer(text: str) -> int:
        return 2 if text in other else 1

    assert own
    return answer


def rows_of(app: App, name: str, round_id: int) -> list[dict[str, Any]]:
    t = table(name)
    return app.db.read_sync(
        lambda conn: [
            dict(x) for x in conn.execute(sa.select(t).where(t.c.round_id == round_id)).mappings()
        ]
    )


async def open_round(app: App) -> int:
    before = {r.id for r in app.engine.open_rounds()}
    reply = await say(app, "@alice !debat ouvrir capitalisme-numerique")
    assert "ouvert" in reply
    (round_id,) = {r.id for r in app.engine.open_rounds()} - before
    return round_id


async def play_first_round(app: App) -> tuple[int, set[str], Summary]:
    """Round 1, closed: its id, every name its members had (pseudonyms while open, tokens
    after the close), and its summary."""
    round_id = await answer_first_round(app)
    r = app.engine.open_rounds()[0]
    names = {app.engine.pseudonym_for(round_id, "console", u) or "" for u in CAMP_A + CAMP_B}
    assert await say(app, f"@alice !debat fermer {r.code}") == FR("round_closing", code=r.code)
    for name, column in (("position", "participant"), ("argument", "author"), ("vote", "voter")):
        names |= {row[column] for row in rows_of(app, name, round_id)}
    summary = await app.engine.summary(round_id)
    assert summary is not None
    return round_id, names - {"", CARRIED_OVER}, summary


async def answer_first_round(app: App) -> int:
    """Round 1 opened, answered and voted on by both camps (one argument hidden)."""
    round_id = await open_round(app)
    assert rows_of(app, "argument", round_id) == []  # a first round: nothing to carry
    r = app.engine.open_rounds()[0]
    for user in CAMP_A + CAMP_B:
        stance = r.stances[0] if user.startswith("a") else r.stances[1]
        text = AUTHORS.get(user, "")
        await say(app, f"@{user} dm !position {stance} {text}".rstrip())
    hidden = next(a["number"] for a in rows_of(app, "argument", round_id) if a["text"] == HIDDEN)
    assert await say(app, f"@alice dm !debat masquer {hidden}") == FR(
        "argument_hidden", number=hidden
    )
    for user in CAMP_A + CAMP_B:
        await vote_through(app, user, camp_answer(user))
    return round_id


def expected_carried(summary: Summary) -> list[tuple[int, str]]:
    """(number, list) of what round 1's summary hands on, as its published lists say."""
    analysis = summary["analysis"]
    assert analysis is not None
    common = [e["number"] for e in analysis["common_ground"]][:MAX_CARRIED_COMMON_GROUND]
    divisive = [n for n in analysis["divisive"] if n not in common][:MAX_CARRIED_DIVISIVE]
    return [(n, "common_ground") for n in common] + [(n, "divisive") for n in divisive]


async def test_a_follow_up_round_carries_over_common_ground_and_division(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    app, out = await app_factory(
        config_factory(database_url=db_url, debates=[debate(follow_up=True)])
    )
    _, names, summary1 = await play_first_round(app)
    code1 = summary1["round"]["code"]
    args1 = {a["number"]: a for a in summary1["arguments"]}
    analysis1 = summary1["analysis"]
    assert analysis1 is not None and len(analysis1["groups"]) >= 2
    wanted = expected_carried(summary1)
    # The round has both: the consensus texts as common ground, the camps' texts dividing.
    assert {args1[n]["text"] for n, kind in wanted if kind == "common_ground"} <= set(SHARED)
    assert any(kind == "divisive" for _, kind in wanted)
    assert len(names) >= 2 * len(CAMP_A + CAMP_B)  # pseudonyms, then the tokens of the close

    second = await open_round(app)
    rows = rows_of(app, "argument", second)
    assert sorted((json.loads(a["carried_over"])["number"], a["text"]) for a in rows) == sorted(
        (n, args1[n]["text"]) for n, _ in wanted
    )
    assert HIDDEN not in {a["text"] for a in rows}  # hidden in round 1: never carried
    for row in rows:
        origin = json.loads(row["carried_over"])
        published = args1[origin["number"]]
        assert row["author"] == CARRIED_OVER and not row["hidden"]
        assert origin == {
            "round": code1,
            "number": published["number"],
            "listed_as": dict(wanted)[published["number"]],
            "votes": published["votes"],
            "agree": published["agree"],
            "disagree": published["disagree"],
            "pass": published["pass"],
        }
    # Nothing of round 1's members in round 2's rows, whichever column.
    for name in ("argument", "position", "vote", "pending_vote", "round_salt"):
        for row in rows_of(app, name, second):
            assert not {str(v) for v in row.values()} & names, name
            assert not any(n in json.dumps(row, default=str) for n in names), name
    r2 = next(r for r in app.engine.open_rounds() if r.id == second)
    assert r2.code != code1 and r2.salt

    # Moderators see them marked, and may hide one like any other.
    listed = await say(app, f"@alice dm !debat arguments {r2.code}")
    mark = FR("moderation_list_carried", code=code1)
    assert listed.count(mark) == len(rows)
    dividing = next(a for a in rows if json.loads(a["carried_over"])["listed_as"] == "divisive")
    await say(app, f"@alice dm !debat masquer {dividing['number']}")
    await say(app, f"@b7 dm !position {r2.stances[1]} Un argument neuf du deuxième tour.")
    voters = CAMP_A[:5] + CAMP_B[:5]
    for user in voters:
        prompts = await vote_through(app, user, lambda text: 1)
        carried = [p for p in prompts if f"repris du tour {code1}" in p]
        assert len(carried) == len(rows) - 1  # the hidden one is not offered
        for prompt in carried:
            number = int(re.match(r"Argument n° (\d+)", prompt).group(1))  # type: ignore[union-attr]
            text = next(a["text"] for a in rows if a["number"] == number)
            assert prompt == FR(
                "vote_prompt_carried",
                number=number,
                code=code1,
                remaining=re.search(r"\((\d+) restant", prompt).group(1),  # type: ignore[union-attr]
                text=escape_markdown(text),
            )
        assert len(prompts) == len(rows)  # the carried ones and b7's
    # Carried-over arguments are nobody's: a member's withdrawal leaves them in place.
    assert await say(app, "@a0 dm !retirer") == FR("withdrawn", code=r2.code)
    assert len(rows_of(app, "argument", second)) == len(rows) + 1

    await say(app, f"@alice !debat fermer {r2.code}")
    summary2 = await app.engine.summary(second)
    assert summary2 is not None and summary2["schema_version"] == 6
    # Nine voters (a0 withdrew) and b7: the carried-over arguments count as nobody.
    assert summary2["participants"] == len(voters) - 1 + 1
    assert summary2["hidden_arguments"] == 1
    # Re-keyed at the close, the carried-over rows are still nobody's; `rounds` counts alike.
    closed = rows_of(app, "argument", second)
    assert sorted(a["author"] for a in closed if a["carried_over"]) == [CARRIED_OVER] * len(rows)
    info = await app.engine.round_info(second)
    assert info is not None and info.participants == summary2["participants"]
    numbers2 = {a["number"]: a for a in rows}
    movement = summary2["carried_over"]
    assert sorted(e["number"] for e in movement) == sorted(
        a["number"] for a in rows if a["number"] != dividing["number"]
    )
    for entry in movement:
        then = args1[entry["round_number"]]
        assert entry["round"] == code1
        assert (
            entry["round_number"]
            == json.loads(numbers2[entry["number"]]["carried_over"])["number"]
        )
        assert (entry["votes_then"], entry["support_then"]) == (then["votes"], then["support"])
        assert (entry["votes_now"], entry["support_now"]) == (len(voters) - 1, 100.0)
    top = {n for row in summary2["top_arguments"] for n in row["arguments"]}
    assert not top & {e["number"] for e in movement}  # nobody's: no stance, not "top"
    text = render_summary_text(summary2)
    assert "**Repris du tour précédent**" in text
    some = movement[0]
    label = f"n° {some['number']} (repris du tour {code1})"
    assert label in text and "d'accord alors" in text and "100 % des 9 votants" in text
    await app.publisher.deliver()
    assert "Repris du tour précédent" in out.getvalue()


async def test_without_follow_up_the_next_round_opens_empty(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(debates=[debate(follow_up=False)]))
    _, _, summary1 = await play_first_round(app)
    assert expected_carried(summary1)  # there was something to carry
    second = await open_round(app)
    assert rows_of(app, "argument", second) == []


async def test_a_purged_previous_round_leaves_the_next_unseeded(
    config_factory: Any, app_factory: Any
) -> None:
    app, _ = await app_factory(config_factory(debates=[debate(follow_up=True)]))
    first, _, summary1 = await play_first_round(app)
    assert expected_carried(summary1)
    assert await app.engine.purge(timedelta(0)) == 1
    assert rows_of(app, "argument", first) == []
    second = await open_round(app)
    assert rows_of(app, "argument", second) == []
    assert await app.engine.close_round(second)  # and nothing breaks at the close either
    assert (await app.engine.summary(second) or {}).get("carried_over") == []


async def test_a_failure_while_seeding_leaves_the_round_unopened(
    config_factory: Any, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The carried-over arguments are inserted in the transaction that opens the round: a
    failure half-way leaves no argument, no salt and the round still to open."""
    app, _ = await app_factory(config_factory(debates=[debate(follow_up=True)]))
    _, _, summary1 = await play_first_round(app)
    wanted = expected_carried(summary1)
    assert len(wanted) >= 2
    insert = store.insert_carried
    calls = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return insert(*args, **kwargs)

    monkeypatch.setattr(store, "insert_carried", failing)
    with pytest.raises(RuntimeError, match="the disk is full"):
        await app.engine.open_round("capitalisme-numerique")
    (scheduled,) = [
        r for r in await app.engine.list_rounds() if r.state == RoundState.SCHEDULED.value
    ]
    assert rows_of(app, "argument", scheduled.id) == []
    assert rows_of(app, "round_salt", scheduled.id) == []
    assert app.engine.open_rounds() == []
    monkeypatch.setattr(store, "insert_carried", insert)
    await app.engine.reconcile()  # the next tick opens it, seeded whole
    assert len(rows_of(app, "argument", scheduled.id)) == len(wanted)
    assert len(app.engine.open_rounds()[0].arguments) == len(wanted)


async def test_a_round_opening_as_the_last_one_closes_follows_up_on_it(
    config_factory: Any, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One tick closes round 1 and opens round 2 (a schedule with back-to-back rounds): the
    close, and its summary, come first, whatever order the database lists the rounds in."""
    app, _ = await app_factory(config_factory(debates=[debate(follow_up=True)]))
    first = await answer_first_round(app)
    later = app.engine.clock() + timedelta(hours=2)
    app.engine.clock = lambda: later
    config = app.engine.config.debate("capitalisme-numerique")
    second = await app.engine._create_round(config, later, opened_by="schedule")
    rounds = app.engine.rounds
    listed = rounds.due_rounds

    async def opening_first() -> Any:
        return sorted(await listed(), key=lambda t: t.id != second)

    monkeypatch.setattr(rounds, "due_rounds", opening_first)
    applied = await app.engine.reconcile()
    assert [(first, "close"), (second, "open")] == [(i, a.value) for i, a in applied][:2]
    assert rows_of(app, "argument", second) != []
    summary1 = await app.engine.summary(first)
    assert summary1 is not None
    assert len(rows_of(app, "argument", second)) == len(expected_carried(summary1))


def test_the_carried_over_marker_can_never_be_a_pseudonym() -> None:
    """Pseudonyms and closed rounds' tokens are 32 lowercase hex digits; the marker is not."""
    hex32 = re.compile(r"[0-9a-f]{32}")
    for user in ("alice", "", "carried-over", CARRIED_OVER, "x" * 200):
        assert hex32.fullmatch(pseudonym(b"s" * 32, new_salt(), "console", user))
    assert hex32.fullmatch(new_token())
    assert not hex32.fullmatch(CARRIED_OVER) and CARRIED_OVER


def test_follow_up_without_voting_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "debates:\n  - id: d\n    title: T\n    pack: progressive-alliance-2018\n"
        "    statement_voting: false\n    follow_up: true\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "debates[0]" in str(info.value)
    assert "follow_up needs statement_voting" in str(info.value)
    path.write_text(path.read_text().replace("follow_up: true", "follow_up: false"))
    assert not load_config(path).debates[0].follow_up
