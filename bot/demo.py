"""``debate-bot demo``: one accelerated round on the console, with simulated participants.

Everything goes through the real code paths: the moderator opens the round with
``!debat ouvrir``, participants answer with ``!position`` and vote with ``!voter`` then
``1``/``2``/``3`` in direct messages, the scheduler closes the round at its close time, and the
summary is published to the console channel from the outbox.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from collections.abc import Callable
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

# The simulated members' arguments. Each is said from the stance its author took on the question
# actually asked, by its label ("I answer “People”: …"): the bundled packs' questions have
# stances of their own, which topic-bound "for" and "against" texts would contradict. An opening
# and a reason make one sentence; every pair is used once per stance (see
# :class:`ArgumentTexts`), so no sentence repeats even at a few hundred participants.
OPENINGS: dict[str, list[str]] = {
    "fr": [
        "Je réponds « {label} »",
        "Pour moi, c'est « {label} »",
        "Je choisis « {label} »",
        "Ma réponse est « {label} »",
        "Je penche pour « {label} »",
        "Après réflexion, je dis « {label} »",
        "Sans hésiter, « {label} »",
        "Je dirais « {label} »",
    ],
    "en": [
        "I answer “{label}”",
        "For me it is “{label}”",
        "I choose “{label}”",
        "My answer is “{label}”",
        "I lean towards “{label}”",
        "On reflection, I say “{label}”",
        "Without hesitation, “{label}”",
        "I would say “{label}”",
    ],
}
REASONS: dict[str, list[str]] = {
    "fr": [
        "c'est ce que je constate autour de moi.",
        "les exemples concrets vont dans ce sens.",
        "c'est ce que vivent les gens que je connais.",
        "mon expérience au travail le confirme.",
        "c'est la réponse la plus juste pour la suite.",
        "les autres réponses oublient l'essentiel.",
        "c'est ce que montrent les dernières années.",
        "c'est la seule réponse qui tienne compte des plus fragiles.",
        "les discussions de ce débat m'en ont convaincu.",
        "c'est ce qui ressort de ce que j'ai lu sur la question.",
    ],
    "en": [
        "it is what I see around me.",
        "the concrete examples point that way.",
        "it is what the people I know live through.",
        "my experience at work confirms it.",
        "it is the fairest answer for what comes next.",
        "the other answers miss the essential.",
        "it is what recent years have shown.",
        "it is the only answer that thinks of the most vulnerable.",
        "the discussions in this debate convinced me.",
        "it is what comes out of what I have read on the question.",
    ],
}
# Stances that take no side have sentences of their own.
OWN_WORDS: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "fr": {
        "nuance": (
            [
                "Ma position est nuancée",
                "Je ne tranche pas d'un bloc",
                "C'est plus compliqué que cela",
                "Je suis partagé",
            ],
            [
                "tout dépend de qui contrôle la technologie et comment.",
                "il faut distinguer les usages utiles des abus.",
                "chaque réponse a sa part de vérité.",
                "la réponse change d'un secteur à l'autre.",
                "cela dépend des règles que l'on se donne.",
            ],
        ),
        "abstention": (
            ["Je m'abstiens", "Je préfère ne pas trancher", "Je ne me prononce pas"],
            [
                "il me manque des informations pour décider.",
                "je n'ai pas encore assez lu sur le sujet.",
                "j'attends d'entendre les autres arguments.",
                "la question mérite plus de temps.",
            ],
        ),
    },
    "en": {
        "nuance": (
            [
                "My position is nuanced",
                "I do not decide in one block",
                "It is more complicated than that",
                "I am torn",
            ],
            [
                "it all depends on who controls the technology and how.",
                "useful uses must be told apart from abuses.",
                "each answer holds part of the truth.",
                "the answer changes from one sector to another.",
                "it depends on the rules we give ourselves.",
            ],
        ),
        "abstention": (
            ["I abstain", "I would rather not decide", "I take no position"],
            [
                "I lack the information to decide.",
                "I have not read enough on the subject yet.",
                "I want to hear the other arguments first.",
                "the question deserves more time.",
            ],
        ),
    },
}


class ArgumentTexts:
    """Hands out the simulated arguments: for each stance, the (opening, reason) pairs in a
    fixed order that spreads both, each pair once; past the last pair, a numbered variant."""

    def __init__(self, lang: str, label_of: Callable[[str], str]) -> None:
        self.lang = lang if lang in OPENINGS else "fr"
        self.label_of = label_of
        self.used: dict[str, int] = {}

    def next(self, stance: str) -> str:
        openings, reasons = OWN_WORDS[self.lang].get(
            stance, (OPENINGS[self.lang], REASONS[self.lang])
        )
        k = self.used.get(stance, 0)
        self.used[stance] = k + 1
        pairs = len(openings) * len(reasons)
        # k = q·O + r -> (r, (r + q) mod R): consecutive members differ in both halves, and
        # the first O·R values of k give O·R different pairs.
        opening = openings[k % len(openings)].format(label=self.label_of(stance))
        reason = reasons[(k % len(openings) + k // len(openings)) % len(reasons)]
        sep = " : " if self.lang == "fr" else ": "
        text = f"{opening}{sep}{reason}"
        return text if k < pairs else f"{text[:-1]} ({k // pairs + 1})."


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
    texts = ArgumentTexts(lang, lambda stance: app.engine.stance_label(opened.debate_id, stance))
    shown, crowd = names[:SHOWN_PARTICIPANTS], names[SHOWN_PARTICIPANTS:]
    for i, name in enumerate(shown):
        await _participate(app, console, name, i, camps[name], stances, rng, texts)
    await asyncio.gather(
        *(
            _participate(app, console, name, i + len(shown), camps[name], stances, rng, texts)
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
    texts: ArgumentTexts,
) -> None:
    # The first two stances of any set are the two sides (pour/contre, or a question's own).
    stance = stances[camp % 2] if rng.random() < 0.85 else rng.choice(stances)
    text = f"!position {stance}"
    if rng.random() < 0.6:
        # Said from the stance just taken, whatever the question's stances are.
        text += " " + texts.next(stance)
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
