"""A follow-up round on Discord: its carried-over arguments are marked on the vote prompt and
in the moderation panel, as discord.py renders them."""

from __future__ import annotations

import re
from pathlib import Path

from discord_support import DEBATE, FR, Launch, debate, discord_config
from fake_discord import CHANNEL_ID, FakeDiscord, Member

from bot.app import App

SHARED = ["Les données de santé ne se vendent pas.", "Les écoles apprennent le code."]
ONE_SIDE = ["Il faut taxer les plateformes.", "Les livreurs doivent être salariés."]
OTHER_SIDE = ["La régulation fera fuir les entreprises.", "Le marché se corrige seul."]
TEXTS = [*SHARED, *ONE_SIDE, *OTHER_SIDE, "Le numérique public doit être libre."]


async def first_round(app: App) -> str:
    """Round 1 through the engine: two camps of eight, every argument voted on by all but its
    author; closed and summarised. Its code."""
    info = await app.engine.open_round(DEBATE)
    r = app.engine.open_rounds()[0]
    camps = {f"{side}{i}": side for side in "ab" for i in range(8)}
    for (user, side), text in zip(camps.items(), [*TEXTS, *[""] * 16], strict=False):
        stance = r.stances[0 if side == "a" else 1]
        await app.engine.submit_position(info.id, "discord", user, stance, text or None)
    for user, side in camps.items():
        other = OTHER_SIDE if side == "a" else ONE_SIDE
        while (nxt := await app.engine.next_argument(info.id, "discord", user)) is not None:
            value = -1 if nxt.text in other else 1
            await app.engine.vote(info.id, "discord", user, nxt.argument_id, value)
    assert await app.engine.close_round(info.id)
    return info.code


async def test_carried_over_arguments_are_marked_for_members_and_moderators(
    fake: FakeDiscord, launch: Launch, tmp_path: Path, members: dict[str, Member]
) -> None:
    app = await launch(discord_config(tmp_path / "data", debates=[debate(follow_up=True)]))
    code1 = await first_round(app)
    second = await app.engine.open_round(DEBATE)
    await fake.wait_for(lambda c: c.path == f"/channels/{CHANNEL_ID}/messages")
    carried = [a for a in await app.engine.argument_rows(second.id) if a.carried]
    assert carried and all(a.carried and a.carried["round"] == code1 for a in carried)

    prompt = await members["alice"].slash("voter")
    shown = re.match(r"\*\*Argument n° (\d+)\*\*", prompt.content)
    assert shown is not None and int(shown.group(1)) in {a.number for a in carried}
    assert prompt.content.startswith(
        FR(
            "discord_vote_prompt_carried",
            number=shown.group(1),
            code=code1,
            remaining=len(carried),
        )
    )
    panel = await members["modo"].slash("moderation")
    mark = FR("discord_moderation_carried", code=code1)
    assert panel.text.count(mark) == len(carried)  # one line each in the list
