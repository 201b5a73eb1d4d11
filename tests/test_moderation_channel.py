"""The moderation channel and pre-moderation, played on the console as people would.

Members write to the bot in private (``@user dm …``); the bot posts new arguments to the
debate's moderation channel (``[moderation]``) in shuffled batches at its ticks, text and
number only; with ``moderation: pre`` an argument waits for ``!debat approuver <n>`` before
anyone is asked to vote on it. Each storage test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from config_support import write_config_file

from bot.app import App
from bot.config import ConfigError, load_config
from bot.i18n import Messages
from bot.models import table

FR = Messages("fr")
DEBATE = "capitalisme-numerique"
MEMBERS = [f"membre{i}" for i in range(8)]
_NUMBER = re.compile(r"n° (\d+)")


def moderated_config(config_factory: Any, database_url: str | None = None, **debate: Any) -> Any:
    """The test debate, with a console moderation channel (and ``debate`` keys)."""
    return config_factory(
        database_url=database_url,
        debates=[
            {
                "id": DEBATE,
                "title": "Le capitalisme numérique",
                "pack": "progressive-alliance-2018",
                "schedule": {"manual": True},
                "round_duration": "1h",
                "channels": [{"platform": "console", "channel": "general"}],
                "moderation_channel": {"platform": "console", "channel": "moderation"},
                "moderation_batch": "1m",
                **debate,
            }
        ],
        limits={"actions_per_minute": 1000},
    )


async def say(app: App, line: str) -> str:
    replies = await app.adapters["console"].feed(line)  # type: ignore[attr-defined]
    return "\n".join(r.text for r in replies)


def blocks(out: io.StringIO, where: str) -> list[str]:
    """What the console printed in ``[where]``, one block per post or reply."""
    return [b for b in out.getvalue().split("\n\n") if b.startswith(f"[{where}] ")]


async def tick(app: App) -> None:
    """The moderation job's tick, as the scheduler runs it, then the outbox delivered."""
    await app.engine.post_moderation_batches()
    await app.publisher.deliver()


def rows(app: App, name: str) -> list[Any]:
    t = table(name)
    return list(app.db.read_sync(lambda conn: conn.execute(sa.select(t)).all()))


async def argue(app: App, members: list[str]) -> dict[str, int]:
    """Each member takes a stance with an argument; their argument's number by text."""
    r = app.engine.open_rounds()[0]
    numbers = {}
    for i, user in enumerate(members):
        text = f"Argument de {user} numéro {i}."
        reply = await say(app, f"@{user} dm !position {r.stances[i % 2]} {text}")
        found = _NUMBER.search(reply)
        assert found, reply
        numbers[text] = int(found.group(1))
    return numbers


# ---------------------------------------------------------------------------------- config


def test_the_three_keys_have_defaults_and_check_their_values(config_factory: Any) -> None:
    debate = config_factory().debates[0]
    assert debate.moderation_channel is None
    assert debate.moderation_batch == timedelta(minutes=10)
    assert debate.moderation == "post"
    config = moderated_config(config_factory, moderation="pre", moderation_batch="90s")
    assert config.debates[0].moderation_batch == timedelta(seconds=90)
    assert config.debates[0].moderation == "pre"
    with pytest.raises(ValueError, match="at least 1 minute"):
        moderated_config(config_factory, moderation_batch="30s")
    with pytest.raises(ValueError, match="moderation"):
        moderated_config(config_factory, moderation="later")


def test_a_moderation_channel_on_a_disabled_platform_is_an_error(tmp_path: Path) -> None:
    path = write_config_file(
        tmp_path,
        debate_extra="    moderation_channel: {platform: matrix, room_id: '#mod:example.org'}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line = (
        path.read_text()
        .splitlines()
        .index("    moderation_channel: {platform: matrix, room_id: '#mod:example.org'}")
    )
    assert [str(e) for e in caught.value.errors] == [
        f"config.yaml:{line + 1} debates[0].moderation_channel: platform matrix is not enabled "
        "(platforms.matrix.enabled: true), so moderators would never see this channel"
    ]
    fine = write_config_file(
        tmp_path / "fine",
        debate_extra="    moderation_channel: {platform: console, channel: moderation}\n",
    )
    assert load_config(fine).debates[0].moderation_channel is not None


# ---------------------------------------------------------------------------------- batches


async def test_a_batch_posts_every_new_argument_once_without_its_author(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = moderated_config(config_factory, database_url=db_url)
    app, out = await app_factory(config)
    await say(app, f"@alice !debat ouvrir {DEBATE}")
    r = app.engine.open_rounds()[0]
    numbers = await argue(app, MEMBERS)
    names = {app.engine.pseudonym_for(r.id, "console", u) for u in MEMBERS}
    # Nothing before the tick: the time of a post must not follow the time of an argument.
    assert blocks(out, "moderation") == []
    assert len(rows(app, "moderation_queue")) == len(MEMBERS)

    await tick(app)
    (batch,) = blocks(out, "moderation")
    lines = batch.splitlines()
    assert lines[0] == "[moderation] " + FR("moderation_batch_title", code=r.code).replace(
        "**", ""
    )
    posted = [line for line in lines if line.startswith("n° ")]
    assert sorted(posted) == sorted(f"n° {n} — {text}" for text, n in numbers.items())
    assert FR("moderation_batch_hide", debat="!debat", code=r.code).replace("`", "") in batch
    for user in MEMBERS:
        assert f"@{user}" not in batch and f" {user} " not in batch.replace(f"de {user}", "")
    assert not [name for name in names if name and name in batch]
    assert "approuver" not in batch  # moderation: post, nothing awaits approval
    assert rows(app, "moderation_queue") == []

    # The next tick has nothing new: nothing is posted twice.
    await tick(app)
    assert len(blocks(out, "moderation")) == 1
    await say(app, f"@late dm !position {r.stances[0]} Un argument tardif.")
    await tick(app)
    later = blocks(out, "moderation")
    assert len(later) == 2 and "Un argument tardif." in later[1]
    assert "Argument de" not in later[1]


async def test_the_batch_is_shuffled_as_a_whole(
    config_factory: Any, app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secrets

    shuffled: list[list[int]] = []

    class Recording:
        """Stands for SystemRandom: keeps what it was given, and reverses it."""

        def shuffle(self, items: list[int]) -> None:
            shuffled.append(list(items))
            items.reverse()

    app, out = await app_factory(moderated_config(config_factory))
    await say(app, f"@alice !debat ouvrir {DEBATE}")
    numbers = await argue(app, MEMBERS[:6])
    monkeypatch.setattr(secrets, "SystemRandom", Recording)
    await tick(app)
    (given,) = shuffled
    by_id = {row.id: row.number for row in rows(app, "argument")}
    assert sorted(by_id[i] for i in given) == sorted(numbers.values())  # the whole batch
    posted = [int(n) for n in _NUMBER.findall(blocks(out, "moderation")[0])]
    assert posted == [by_id[i] for i in reversed(given)]  # in the order the shuffle gave


async def test_batches_do_not_follow_the_arrival_order(
    config_factory: Any, app_factory: Any
) -> None:
    app, out = await app_factory(moderated_config(config_factory))
    await say(app, f"@alice !debat ouvrir {DEBATE}")
    in_order = 0
    for run in range(5):
        before = len(blocks(out, "moderation"))
        numbers = await argue(app, [f"vague{run}-{i}" for i in range(6)])
        await tick(app)
        # The scheduler's own tick (at each minute) may have posted part of the batch first.
        new = blocks(out, "moderation")[before:]
        posted = [int(n) for block in new for n in _NUMBER.findall(block)]
        assert sorted(posted) == sorted(numbers.values())
        in_order += len(new) == 1 and posted == list(numbers.values())
    # Each batch of 6 keeps its arrival order by chance once in 720.
    assert in_order <= 1


async def test_the_queue_survives_a_restart(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = moderated_config(config_factory, database_url=db_url)
    first, _ = await app_factory(config, start=False)
    await first.start()
    try:
        await say(first, f"@alice !debat ouvrir {DEBATE}")
        numbers = await argue(first, MEMBERS[:3])
    finally:
        await first.stop()
    app, out = await app_factory(config)
    await tick(app)
    (batch,) = blocks(out, "moderation")
    assert sorted(int(n) for n in _NUMBER.findall(batch)) == sorted(numbers.values())
    assert rows(app, "moderation_queue") == []


async def test_withdrawn_and_closed_arguments_are_never_posted(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = moderated_config(config_factory, database_url=db_url)
    app, out = await app_factory(config)
    await say(app, f"@alice !debat ouvrir {DEBATE}")
    await argue(app, MEMBERS[:3])
    await say(app, f"@{MEMBERS[0]} dm !retirer")
    assert len(rows(app, "moderation_queue")) == 2
    # A batch owed but not delivered when the round closes is not delivered either.
    await app.publisher.stop()  # (the tick below delivers by hand)
    await app.engine.post_moderation_batches()
    assert len(rows(app, "moderation_batch")) == 1
    await say(app, f"@{MEMBERS[3]} dm !position pour Dernier argument.")
    await say(app, "@alice !debat fermer")
    assert rows(app, "moderation_queue") == [] and rows(app, "moderation_batch") == []
    await tick(app)
    assert blocks(out, "moderation") == []


# ---------------------------------------------------------------------------------- pre


async def test_pre_moderation_as_members_and_moderators_see_it(
    db_url: str, config_factory: Any, app_factory: Any
) -> None:
    config = moderated_config(config_factory, database_url=db_url, moderation="pre")
    app, out = await app_factory(config)
    await say(app, f"@alice !debat ouvrir {DEBATE}")
    r = app.engine.open_rounds()[0]
    held = await say(app, f"@bob dm !position {r.stances[0]} Un argument à relire.")
    number = int(_NUMBER.search(held).group(1))  # type: ignore[union-attr]
    assert FR("argument_pending", number=number) in held
    assert FR("argument_recorded", number=number) not in held
    mine = await say(app, "@bob dm !ma-position")
    assert f"• {number} — Un argument à relire. {FR('my_argument_pending')}" in mine
    # Nobody is asked to vote on it yet.
    assert FR("vote_none_left") in await say(app, "@carol dm !voter")

    await tick(app)
    (batch,) = blocks(out, "moderation")
    pending = FR("moderation_batch_pending", debat="!debat", number=number).replace("`", "")
    assert f"n° {number} — Un argument à relire. {pending}" in batch
    listed = await say(app, "@alice !debat arguments")
    assert f"• n° {number} {FR('moderation_list_pending')} — Un argument à relire." in listed

    # Refused, changing nothing: a member, in the room and in private; bad numbers.
    refusal = FR("not_moderator")
    assert await say(app, f"@bob !debat approuver {number}") == refusal
    assert await say(app, f"@mallory dm !debat approuver {number} {r.code}") == refusal
    assert await say(app, "@alice !debat approuver") == FR(
        "missing_argument_number", action="approuver"
    )
    assert await say(app, "@alice !debat approuver 123456") == FR(
        "unknown_argument", number=123456, code=r.code
    )
    assert FR("vote_none_left") in await say(app, "@carol dm !voter")

    # The moderator approves from a private message: rights come from the round's channel.
    assert await say(app, f"@alice dm !debat approuver {number}") == FR(
        "argument_approved", number=number
    )
    assert await say(app, f"@alice !debat approuver {number}") == FR(
        "approve_not_pending", number=number
    )
    assert f"n° {number}" in await say(app, "@carol dm !voter")
    assert FR("my_argument_pending") not in await say(app, "@bob dm !ma-position")

    # Hiding an argument that awaits approval rejects it; it cannot be approved while hidden.
    rejected = await say(app, f"@dave dm !position {r.stances[1]} Un argument rejeté.")
    other = int(_NUMBER.search(rejected).group(1))  # type: ignore[union-attr]
    await say(app, f"@alice !debat masquer {other}")
    assert await say(app, f"@alice !debat approuver {other}") == FR("approve_hidden", number=other)
    never = await say(app, f"@erin dm !position {r.stances[1]} Un argument jamais relu.")
    assert FR("argument_pending", number=int(_NUMBER.search(never).group(1))) in never  # type: ignore[union-attr]
    # Someone else is asked about the approved argument only.
    assert f"n° {number}" in await say(app, "@frank dm !voter")
    assert FR("vote_none_left") in await say(app, "@frank dm 1")

    await say(app, "@alice !debat fermer")
    summary = await app.engine.summary(r.id)
    assert summary is not None
    texts = [a["text"] for a in summary["arguments"]]
    assert "Un argument à relire." in texts
    assert "Un argument jamais relu." not in texts
    exported = await app.engine.export(r.id, "md")
    assert "jamais relu" not in exported.data.decode()
    assert await say(app, f"@alice !debat approuver {other} {r.code}") == FR(
        "unknown_round", code=r.code
    )


async def test_the_batch_job_runs_at_fixed_ticks(config_factory: Any, app_factory: Any) -> None:
    config = moderated_config(config_factory, moderation_batch="10m")
    app, out = await app_factory(config)
    job = app.scheduler.aps.get_job(f"moderation-{DEBATE}")
    assert job is not None and job.trigger.interval == timedelta(minutes=10)
    # On the clock's ten minutes, whenever the bot started or an argument came in.
    assert job.next_run_time.minute % 10 == 0
    assert (job.next_run_time.second, job.next_run_time.microsecond) == (0, 0)
    await say(app, f"@alice !debat ouvrir {DEBATE}")
    numbers = await argue(app, MEMBERS[:2])
    assert app.scheduler.aps.get_job(f"moderation-{DEBATE}").next_run_time == job.next_run_time
    await job.func(*job.args)  # what the scheduler runs at the tick
    await app.publisher.deliver()
    (batch,) = blocks(out, "moderation")
    assert sorted(int(n) for n in _NUMBER.findall(batch)) == sorted(numbers.values())

    # Without a moderation channel, no job.
    plain = config.model_copy(
        update={"debates": [config.debates[0].model_copy(update={"moderation_channel": None})]}
    )
    await app.engine.apply_config(plain)
    await app.scheduler.rebuild()
    assert app.scheduler.aps.get_job(f"moderation-{DEBATE}") is None
