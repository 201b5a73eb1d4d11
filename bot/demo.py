"""``debate-bot demo``: one accelerated round on the console, with simulated participants.

Everything goes through the real code paths: the moderator opens the round with
``!debat ouvrir``, participants answer with ``!position`` and vote with ``!voter`` then
``d``/``p``/``n`` in direct messages, the scheduler closes the round at its close time, and the
summary is published to the console channel from the outbox.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.config import (
    Config,
    ConsoleChannel,
    ConsoleConfig,
    DebateConfig,
    ManualSchedule,
    ObservabilityConfig,
    PlatformsConfig,
)
from bot.durations import format_duration
from bot.events import Incoming
from bot.models import RoundState
from bot.platforms import AdapterContext

SHOWN_PARTICIPANTS = 3

ARGUMENTS: dict[str, dict[str, list[str]]] = {
    "fr": {
        "pour": [
            "Les outils numériques doivent d'abord servir le bien commun.",
            "Une régulation publique forte protège les plus fragiles.",
            "Les données produites par tous devraient profiter à tous.",
            "Les coopératives montrent qu'un autre modèle est possible.",
            "Les gains de productivité doivent aussi réduire le temps de travail.",
            "Un service public numérique garantirait l'accès de tous.",
            "La transparence des algorithmes est une condition de la démocratie.",
        ],
        "contre": [
            "L'innovation naît de la liberté d'entreprendre, pas de la contrainte.",
            "Les règles nationales ne peuvent rien contre des acteurs mondiaux.",
            "Chacun reste libre de ne pas utiliser ces services.",
            "Trop de régulation ferait fuir les talents et les investissements.",
            "Le marché corrige ses excès plus vite que la loi.",
            "Les plateformes créent des emplois là où il n'y en avait pas.",
            "Ce débat oublie les bénéfices concrets pour les usagers.",
        ],
        "nuance": [
            "Tout dépend de qui contrôle la technologie et comment.",
            "Il faut distinguer les usages utiles des abus.",
        ],
        "abstention": ["Je manque d'informations pour trancher."],
    },
    "en": {
        "pour": [
            "Digital tools should serve the common good first.",
            "Strong public regulation protects the most vulnerable.",
            "Data produced by everyone should benefit everyone.",
            "Co-operatives show another model is possible.",
            "Productivity gains should also shorten working time.",
            "A public digital service would guarantee access for all.",
            "Algorithmic transparency is a condition of democracy.",
        ],
        "contre": [
            "Innovation comes from freedom to build, not from constraint.",
            "National rules can do nothing against global players.",
            "Everyone remains free not to use these services.",
            "Too much regulation would drive talent and investment away.",
            "Markets correct their excesses faster than the law.",
            "Platforms create jobs where there were none.",
            "This debate forgets the concrete benefits for users.",
        ],
        "nuance": [
            "It all depends on who controls the technology and how.",
            "Useful uses must be told apart from abuses.",
        ],
        "abstention": ["I lack the information to decide."],
    },
}


def demo_config(
    config: Config, seconds: float, debate_id: str | None, data_dir: Path
) -> tuple[Config, str]:
    """The config restricted to the console, with one accelerated manual debate, on its own
    data directory, database and secret: the demo never touches the real rounds."""
    if not config.debates:
        raise SystemExit("the config has no debate to run")
    debate = config.debate(debate_id) if debate_id else config.debates[0]
    console = config.platforms.of(ConsoleConfig).model_copy(update={"enabled": True})
    fast: DebateConfig = debate.model_copy(
        update={
            "round_duration": _seconds(seconds),
            "reminder_before_close": None,
            "schedule": ManualSchedule(manual=True),
            "channels": [ConsoleChannel(platform="console", channel=console.channel)],
        }
    )
    moderators = console.moderators or ["alice"]
    platforms = PlatformsConfig({"console": console.model_copy(update={"moderators": moderators})})
    anonymity = config.anonymity.model_copy(
        update={"secret_env": "DEBATE_BOT_DEMO_SECRET", "secret_file": None}
    )
    update = {
        "platforms": platforms,
        "debates": [fast],
        "data_dir": data_dir,
        "database_url": None,
        "retention": None,
        "anonymity": anonymity,
        # A demo on a service's config must not bind the service's metrics port.
        "observability": ObservabilityConfig(),
    }
    return config.model_copy(update=update), fast.id


def _seconds(value: float) -> object:
    from datetime import timedelta

    return timedelta(seconds=max(value, 1.0))


async def run_demo(
    config: Config,
    participants: int,
    seconds: float,
    debate_id: str | None,
    out: TextIO | None = None,
    data_dir: Path | None = None,
) -> int:
    out = out if out is not None else sys.stdout
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="debate-bot-demo-"))
    config, debate_id = demo_config(config, seconds, debate_id, data_dir)
    lang = config.language
    moderator = config.platforms.of(ConsoleConfig).moderators[0]

    def console_factory(context: AdapterContext[ConsoleConfig]) -> ConsoleAdapter:
        return ConsoleAdapter(context.settings, context.commands, context.export_dir, out=out)

    app = App(config, adapters={"console": console_factory}, tick_seconds=1.0)
    console = app.adapters["console"]
    assert isinstance(console, ConsoleAdapter)
    debate = config.debate(debate_id)
    intro = app.engine.messages(
        "demo_intro",
        participants=participants,
        seconds=format_duration(debate.round_duration),
        title=debate.title,
    )
    out.write(f"# {intro}\n\n")
    await app.start()
    try:
        await console.feed(f"@{moderator} !debat ouvrir {debate_id}")
        await app.publisher.deliver()
        round_id = max(r.id for r in app.engine.open_rounds())
        await _crowd(app, console, round_id, participants, lang)
        hidden = participants - SHOWN_PARTICIPANTS
        if hidden > 0:
            out.write(f"# … {hidden} autres participants ont répondu de la même façon.\n\n")
        while True:
            info = await app.engine.round_info(round_id)
            if info is not None and info.state == RoundState.SUMMARISED:
                break
            await asyncio.sleep(0.2)
        await app.publisher.deliver()
    finally:
        await app.stop()
    out.write(f"# {app.engine.messages('demo_files', path=str(config.data_dir))}\n")
    return 0


async def _crowd(
    app: App, console: ConsoleAdapter, round_id: int, participants: int, lang: str
) -> None:
    """Simulated members take positions, then vote: the first few shown, the rest at once."""
    opened = app.engine.open_round_by_id(round_id)
    assert opened is not None
    rng = random.Random(round_id)
    names = [f"membre-{i:02d}" for i in range(1, participants + 1)]
    # Two camps, so that the opinion-group analysis has something to find.
    camps = {name: i % 2 for i, name in enumerate(names)}
    stances = list(opened.stances)
    shown, crowd = names[:SHOWN_PARTICIPANTS], names[SHOWN_PARTICIPANTS:]
    for i, name in enumerate(shown):
        await _participate(app, console, name, i, camps[name], stances, rng, lang)
    await asyncio.gather(
        *(
            _participate(app, console, name, i + len(shown), camps[name], stances, rng, lang)
            for i, name in enumerate(crowd)
        )
    )
    for i, name in enumerate(shown):
        await _vote(app, console, name, i, camps[name], stances, rng)
    await asyncio.gather(
        *(
            _vote(app, console, name, i + len(shown), camps[name], stances, rng)
            for i, name in enumerate(crowd)
        )
    )


async def _send(app: App, console: ConsoleAdapter, name: str, index: int, text: str) -> None:
    if index < SHOWN_PARTICIPANTS:
        console.out.write(f"@{name} dm {text}\n")
        await console.feed(f"@{name} dm {text}")
    else:
        await app.commands.handle(
            Incoming(
                platform="console", user_id=name, text=text, shared_channels=(console.channel,)
            )
        )


async def _participate(
    app: App,
    console: ConsoleAdapter,
    name: str,
    index: int,
    camp: int,
    stances: list[str],
    rng: random.Random,
    lang: str,
) -> None:
    # The first two stances of any set are the two sides (pour/contre, or a question's own).
    stance = stances[camp % 2] if rng.random() < 0.85 else rng.choice(stances)
    text = f"!position {stance}"
    side = {0: "pour", 1: "contre"}.get(stances.index(stance), stance)
    bank = ARGUMENTS.get(lang, ARGUMENTS["fr"]).get(side, [])
    if bank and rng.random() < 0.6:
        text += " " + bank[index % len(bank)]
    await _send(app, console, name, index, text)


async def _vote(
    app: App,
    console: ConsoleAdapter,
    name: str,
    index: int,
    camp: int,
    stances: list[str],
    rng: random.Random,
) -> None:
    await _send(app, console, name, index, "!voter")
    for _ in range(8):
        pending = app.commands._pending.get(("console", name))
        if pending is None:
            return
        author_stance = await _stance_of_argument(app, pending.round_id, pending.argument_id)
        leaning = stances[camp % 2]
        answer = "3" if rng.random() < 0.15 else "1" if author_stance == leaning else "2"
        await _send(app, console, name, index, answer)


async def _stance_of_argument(app: App, round_id: int, argument_id: int) -> str | None:
    import sqlalchemy as sa

    from bot.models import table

    def read(conn: sa.Connection) -> str | None:
        a, p = table("argument"), table("position")
        row = conn.execute(
            sa.select(p.c.stance)
            .select_from(
                a.join(p, sa.and_(p.c.round_id == a.c.round_id, p.c.participant == a.c.author))
            )
            .where(a.c.id == argument_id)
        ).first()
        return None if row is None else str(row[0])

    return await app.db.read(read)
