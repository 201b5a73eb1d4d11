"""The use-case layer on a real engine (SQLite): results, replies and the moderator decision.

The platform's only part is the fact an :class:`Actor` carries (does this user moderate one of
these channels); each test supplies it as a platform would and records what it was asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from bot.engine import EngineError
from bot.events import ChannelRef
from bot.i18n import Messages
from bot.usecases import Actor, UseCases

DEBATE = "capitalisme-numerique"
GENERAL = ChannelRef("console", "general")
ELSEWHERE = ChannelRef("console", "ailleurs")
FR = Messages("fr")


class Facts:
    """A platform's answer: ``moderator`` moderates ``moderated``; every question is kept."""

    def __init__(self, moderated: Sequence[ChannelRef] = (GENERAL,)) -> None:
        self.moderated = set(moderated)
        self.asked: list[tuple[ChannelRef, ...]] = []

    def actor(self, user: str, *, moderator: bool, **where: Any) -> Actor:
        async def moderates(channels: Sequence[ChannelRef]) -> bool:
            self.asked.append(tuple(channels))
            return moderator and bool(self.moderated.intersection(channels))

        return Actor("console", user, moderates, **where)


@pytest.fixture
async def cases(app_factory: Any, config_factory: Any) -> UseCases:
    app, _ = await app_factory(config_factory())
    return UseCases(app.engine)


async def opened(cases: UseCases) -> int:
    facts = Facts()
    debate = await cases.debate(facts.actor("alice", moderator=True), DEBATE)
    result = await debate.open()
    assert result.text == FR("round_opened", code=result.info.code, question=result.info.question)
    return result.info.id


async def refused(action: Any) -> str:
    with pytest.raises(EngineError) as caught:
        await action
    return caught.value.render(FR)


async def test_member_results_carry_the_catalogue_replies(cases: UseCases) -> None:
    round_id = await opened(cases)
    r = cases.open_round(round_id)
    bob = Facts().actor("bob", moderator=False)
    stance = r.stances[0]
    label = cases.engine.stance_label(r.debate_id, stance)

    plain = await cases.position(bob, round_id, stance)
    assert plain.number is None and plain.voting and plain.label == label
    assert plain.text == FR("position_recorded", stance=label, code=r.code)
    argued = await cases.position(bob, round_id, stance, "Un argument **gras**.")
    assert argued.number is not None
    assert argued.text == "\n".join(
        [
            FR("position_recorded", stance=label, code=r.code),
            FR("argument_recorded", number=argued.number),
        ]
    )
    more = await cases.argument(bob, round_id, "Un second argument.")
    assert more.text == FR("argument_recorded", number=more.number)

    mine = await cases.mine(bob, round_id)
    assert mine.mine.stance == stance and mine.stances == cases.stance_labels(r)
    assert mine.text.startswith(FR("my_position", code=r.code, stance=label))
    assert "\\*\\*gras\\*\\*" in mine.text  # the member's own text, escaped

    withdrawn = await cases.withdraw(bob, round_id)
    assert withdrawn.removed and withdrawn.text == FR("withdrawn", code=r.code)
    again = await cases.withdraw(bob, round_id)
    assert not again.removed and again.text == FR("nothing_to_withdraw", code=r.code)


async def test_voting_goes_through_the_arguments_then_says_so(cases: UseCases) -> None:
    round_id = await opened(cases)
    r = cases.open_round(round_id)
    facts = Facts()
    bob, carol = facts.actor("bob", moderator=False), facts.actor("carol", moderator=False)
    written = await cases.position(bob, round_id, r.stances[0], "Premier argument.")
    assert written.number is not None

    prompt = await cases.next_vote(carol, round_id)
    assert prompt.argument is not None and prompt.argument.number == written.number
    assert prompt.text == FR(
        "vote_prompt", number=written.number, remaining=1, text="Premier argument."
    )
    voted = await cases.vote(carol, round_id, 1, number=written.number)
    assert voted.next.argument is None and voted.next.text == FR("vote_none_left")
    # Nobody votes on their own argument: there is nothing to show its author.
    assert (await cases.next_vote(bob, round_id)).argument is None
    assert await refused(cases.vote(bob, round_id, 1, number=written.number)) == FR("vote_own")


async def test_rights_are_asked_about_the_rounds_channels_not_where_typed(
    cases: UseCases,
) -> None:
    round_id = await opened(cases)
    code = cases.open_round(round_id).code
    facts = Facts()
    # A moderator of the round's channel, typing somewhere else: it is the round that counts.
    alice = facts.actor("alice", moderator=True, channel=ELSEWHERE)
    moderated = await cases.moderated_round(alice, code)
    assert moderated.round_id == round_id
    assert facts.asked == [(GENERAL,)]

    # Someone who moderates only the channel where the command is typed has no right.
    local = Facts(moderated=(ELSEWHERE,))
    mallory = local.actor("mallory", moderator=True, channel=ELSEWHERE)
    not_moderator = FR("not_moderator")
    assert await refused(local_close(cases, mallory, code)) == not_moderator
    assert await refused(local_approve(cases, mallory, code)) == not_moderator
    assert await refused(cases.debate(mallory, DEBATE)) == not_moderator
    assert all(GENERAL in asked for asked in local.asked)
    assert cases.open_round(round_id).code == code  # still open

    # Unknown targets are explained to moderators only; others get the same refusal.
    bob = facts.actor("bob", moderator=False)
    assert await refused(cases.moderated_round(bob, "ZZZZZ")) == not_moderator
    assert await refused(cases.debate(bob, "inconnu")) == not_moderator
    assert await refused(cases.moderated_round(alice, "ZZZZZ")) == FR(
        "unknown_round", code="ZZZZZ"
    )
    assert "inconnu" in await refused(cases.debate(alice, "inconnu"))
    assert (await cases.help(alice)).moderator and not (await cases.help(bob)).moderator


async def local_close(cases: UseCases, actor: Actor, code: str) -> None:
    await (await cases.moderated_round(actor, code)).close()


async def local_approve(cases: UseCases, actor: Actor, code: str) -> None:
    await (await cases.moderated_round(actor, code)).approve(1)


async def test_scope_by_rights_means_a_round_the_actor_moderates(
    app_factory: Any, config_factory: Any
) -> None:
    def debate(debate_id: str, channel: str) -> dict[str, Any]:
        return {
            "id": debate_id,
            "title": "Le capitalisme numérique",
            "pack": "progressive-alliance-2018",
            "schedule": {"manual": True},
            "round_duration": "1h",
            "channels": [{"platform": "console", "channel": channel}],
        }

    config = config_factory(debates=[debate(DEBATE, "general"), debate("autre-debat", "autre")])
    app, _ = await app_factory(config)
    cases = UseCases(app.engine)
    round_id = await opened(cases)
    code = cases.open_round(round_id).code
    # A moderator of the other debate's channel only (like another guild's moderator).
    theirs = Facts(moderated=(ChannelRef("console", "autre"),))
    outsider = theirs.actor("voisin", moderator=True, scope_by_rights=True)
    assert await refused(cases.moderated_round(outsider, None)) == FR("no_open_round")
    assert await refused(cases.moderated_round(outsider, code)) == FR("not_moderator")
    assert await cases.moderated_round_choices(outsider, "") == []
    assert [c.value for c in await cases.debate_choices(outsider, "")] == ["autre-debat"]
    alice = Facts().actor("alice", moderator=True, scope_by_rights=True)
    assert (await cases.moderated_round(alice, None)).round_id == round_id
    assert [c.value for c in await cases.moderated_round_choices(alice, "")] == [code]
    assert [c.value for c in await cases.debate_choices(alice, "")] == [DEBATE]


async def test_moderator_actions_check_their_input_after_the_rights(cases: UseCases) -> None:
    round_id = await opened(cases)
    r = cases.open_round(round_id)
    facts = Facts()
    alice = facts.actor("alice", moderator=True)
    bob = facts.actor("bob", moderator=False)
    written = await cases.position(bob, round_id, r.stances[0], "Un argument.")
    assert written.number is not None

    moderated = await cases.moderated_round(alice, None)
    assert "Durée invalide" in await refused(moderated.extend("bientôt"))
    extended = await moderated.extend("2h")
    assert extended.text == FR(
        "round_extended", code=r.code, closes=cases.engine.format_time(extended.closes_at)
    )
    assert await refused(moderated.set_hidden(None, True)) == FR(
        "missing_argument_number", action="masquer"
    )
    hidden = await moderated.set_hidden(written.number, True)
    assert hidden.text == FR("argument_hidden", number=written.number)
    listed = await moderated.arguments()
    assert [(a.number, a.hidden) for a in listed.arguments] == [(written.number, True)]
    assert await refused(moderated.argument(99)) == FR("unknown_argument", number=99, code=r.code)

    # A panel's button names the round by id: rights are asked again about its channels.
    assert await refused(cases.round_by_id(bob, round_id)) == FR("not_moderator")
    assert await refused(cases.round_by_id(alice, 424242)) == FR("not_moderator")
    restored = await (await cases.round_by_id(alice, round_id)).set_hidden(written.number, False)
    assert restored.text == FR("argument_restored", number=written.number)

    closed = await moderated.close()
    assert closed.text == FR("round_closing", code=r.code)


async def test_export_finds_the_latest_summarised_round_and_checks_the_format(
    cases: UseCases,
) -> None:
    round_id = await opened(cases)
    code = cases.open_round(round_id).code
    facts = Facts()
    alice = facts.actor("alice", moderator=True, channel=GENERAL)
    assert await refused(cases.export_target(alice, None)) == FR("no_round_to_export")
    await (await cases.moderated_round(alice, code)).close()
    for _ in range(200):  # the summary is built in the background
        info = await cases.engine.round_info(round_id)
        if info is not None and info.state == "summarised":
            break
        await asyncio.sleep(0.05)
    target = await cases.export_target(alice, None)
    assert target.info.id == round_id
    assert "pdf" in await refused(target.export("pdf"))
    exported = await target.export("MD")
    assert exported.format == "md" and exported.attachment.filename.endswith(".md")
    assert exported.text == FR("export_ready", code=code, format="md")
    bob = facts.actor("bob", moderator=False, channel=GENERAL)
    assert await refused(cases.export_target(bob, code)) == FR("not_moderator")
    assert [c.value for c in await cases.export_choices(alice, "")] == [code]
    assert await cases.export_choices(bob, "") == []


async def test_help_forms_and_rounds(cases: UseCases) -> None:
    facts = Facts()
    bob = facts.actor("bob", moderator=False, channel=GENERAL)
    # No round open: no stances to list (not the default set), and the help says so.
    helped = await cases.help(bob)
    assert helped.stances == () and helped.where == FR("help_no_round")
    assert cases.rounds(bob).rounds == ()
    round_id = await opened(cases)
    r = cases.open_round(round_id)
    helped = await cases.help(bob)
    assert helped.stances == r.stances
    assert helped.where == FR(
        "help_round",
        code=r.code,
        question=cases.question(r),
        stances=cases.engine.numbered_stances(r),
    )
    form = cases.argument_form(round_id)
    assert (
        form.round is r and form.max_chars == cases.engine.config.debate(DEBATE).argument_max_chars
    )
    (line,) = cases.rounds(bob).rounds
    assert (line.code, line.channels) == (r.code, (GENERAL,))
    assert [c.value for c in cases.round_choices(bob, r.code.lower())] == [r.code]
    assert [c.value for c in cases.stance_choices(bob, None, "")] == list(r.stances)
    assert await refused(cases.mine(bob, 424242)) == FR("round_closed")
