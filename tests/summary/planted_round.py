"""Synthetic round data, shaped like ``Engine._collect``'s, with two planted opinion camps.

Camp A (stance "pour") and camp B (stance "contre") vote on every argument: both camps agree
with the consensus arguments, each camp agrees with its own side's arguments and disagrees
with the other side's, with a little deterministic noise. A few extra people only state a
position, one argument is hidden by moderators, and one late argument gets two votes only.
"""

from __future__ import annotations

import random
from typing import TypeVar

from bot.summary.model import Analysis, ArgumentRow, RoundData, Summary, VoteRow

T = TypeVar("T")

ARGUMENT_ID_BASE = 900_000  # argument database ids: must never appear in a summary

CONSENSUS = [
    "Les données personnelles des citoyens doivent rester sous leur contrôle : le "
    "consentement doit être réel, pas une case pré-cochée.",
    "La transparence des algorithmes publics est une condition de la démocratie.",
]
PRO = [
    "Les plateformes exploitent les livreurs : il faut un statut de salarié et une vraie "
    "protection sociale pour les livreurs.",
    "Les coopératives de plateforme partagent la valeur entre les travailleurs ; l'argent "
    "public devrait financer ces coopératives.",
    "La surveillance de masse par les plateformes menace nos libertés ; il faut interdire "
    "la surveillance publicitaire.",
    "Démanteler les monopoles numériques rendrait la concurrence possible et protégerait "
    "nos libertés.",
]
CON = [
    "Le statut d'indépendant offre aux livreurs une liberté que le statut de salarié "
    "supprimerait.",
    "La régulation des plateformes freinera l'innovation et fera fuir les entreprises "
    "européennes.",
    "Les coopératives n'ont jamais atteint la taille critique ; l'innovation vient des "
    "entreprises privées.",
    "Le marché corrige seul les monopoles : la concurrence finit toujours par revenir.",
]
HIDDEN = "Texte masqué par la modération."
LATE = "Argument arrivé tard : presque personne n'a voté, <b>attention</b> *gras* @everyone."
TRICKY = "<script>alert('x')</script> | colonne | et **gras** [lien](http://exemple.org)"


def planted_data(
    *,
    camp_a: int = 14,
    camp_b: int = 12,
    min_group_size: int = 3,
    noise: float = 0.08,
    seed: int = 7,
    tricky: bool = False,
) -> RoundData:
    """Round data with two camps; ``tricky`` adds an argument full of markup to escape."""
    rng = random.Random(seed)
    people_a = [f"p{i}" for i in range(camp_a)]
    people_b = [f"p{i}" for i in range(camp_a, camp_a + camp_b)]
    extra = [f"p{i}" for i in range(camp_a + camp_b, camp_a + camp_b + 3)]
    positions = {p: "pour" for p in people_a}
    positions.update({p: "contre" for p in people_b})
    positions.update({extra[0]: "nuance", extra[1]: "abstention", extra[2]: "nuance"})

    numbers = rng.sample(range(1, 99), 20)
    arguments: list[ArgumentRow] = []
    kinds: dict[int, str] = {}

    def add(text: str, author: str, kind: str, hidden: bool = False) -> None:
        arg_id = ARGUMENT_ID_BASE + len(arguments) + 1
        arguments.append(
            {
                "id": arg_id,
                "number": numbers[len(arguments)],
                "text": text,
                "author": author,
                "hidden": hidden,
            }
        )
        kinds[arg_id] = kind

    for i, text in enumerate(CONSENSUS):
        add(text, people_a[i] if i % 2 == 0 else people_b[i], "consensus")
    for i, text in enumerate(PRO):
        add(text, people_a[2 + i], "pro")
    for i, text in enumerate(CON):
        add(text, people_b[2 + i], "con")
    add(HIDDEN, people_b[-1], "pro", hidden=True)
    if tricky:
        add(TRICKY, people_a[-1], "consensus")
    add(LATE, extra[0], "late")

    votes: list[VoteRow] = []
    for voter in people_a + people_b:
        camp = "a" if voter in people_a else "b"
        for arg in arguments:
            kind = kinds[arg["id"]]
            if kind == "late":
                continue
            if kind == "consensus":
                value = 1
            elif kind == "pro":
                value = 1 if camp == "a" else -1
            else:
                value = 1 if camp == "b" else -1
            roll = rng.random()
            if roll < noise / 2:
                value = 0
            elif roll < noise:
                value = -value
            votes.append([arg["id"], voter, value])
    late_id = arguments[-1]["id"]
    votes.append([late_id, people_a[0], 1])
    votes.append([late_id, people_b[0], -1])
    rng.shuffle(votes)
    return {
        "round": {
            "id": 4242,
            "code": "K7Q2",
            "debate_id": "capitalisme-numerique",
            "debate_title": "Le capitalisme numérique",
            "question_id": "q-plateformes",
            "question": "Faut-il réguler les plateformes numériques ?",
            "context": "Les plateformes organisent une part croissante du travail.",
            "source": "Source : Progressive Alliance (2018)",
            "opens_at": "2026-11-02T08:00:00Z",
            "closes_at": "2026-11-09T08:00:00Z",
        },
        "language": "fr",
        "stances": ["pour", "contre", "nuance", "abstention"],
        "stance_labels": {
            "pour": "Pour",
            "contre": "Contre",
            "nuance": "Nuancé",
            "abstention": "Abstention",
        },
        "min_group_size": min_group_size,
        "positions": positions,
        "arguments": arguments,
        "votes": votes,
        "seed": 4242,
    }


def texts_of(data: RoundData, kind: str) -> list[str]:
    """Argument texts of one planted kind ("consensus", "pro", "con")."""
    return {"consensus": CONSENSUS, "pro": PRO, "con": CON}[kind]


def planted_with_small_group(
    *,
    small: int = 2,
    camp_a: int = 14,
    camp_b: int = 12,
    min_group_size: int = 3,
    mixed: bool = False,
) -> tuple[RoundData, list[str]]:
    """The planted round plus a small third camp, and the aliases of that camp.

    The small camp rejects the consensus arguments, which sets it apart from both big camps.
    Without ``mixed`` every member agrees with every pro and con argument; with ``mixed`` the
    j-th split argument is agreed by the first ``1 + (j + 1) % (small - 1)`` members and
    rejected by the others, so the camp's agree rates are k/small with 0 < k < small
    (distinctive figures, which makes a leaked rate easy to spot). All of them took the
    stance "nuance" and vote on every argument but the late one.
    """
    data = planted_data(camp_a=camp_a, camp_b=camp_b, min_group_size=min_group_size)
    split = [a for a in data["arguments"] if a["text"] in PRO + CON]
    members = [f"w{i}" for i in range(small)]
    for i, who in enumerate(members):
        data["positions"][who] = "nuance"
        for arg in data["arguments"]:
            if arg["hidden"] or arg["text"] == LATE:
                continue
            if arg["text"] in PRO + CON:
                agreeing = 1 + (split.index(arg) + 1) % (small - 1) if mixed else small
                value = 1 if i < agreeing else -1
            else:
                value = -1
            data["votes"].append([arg["id"], who, value])
    return data, members


def analysis_of(summary: Summary) -> Analysis:
    """The summary's analysis, which the test expects to be there (not withheld)."""
    analysis = summary["analysis"]
    assert analysis is not None
    return analysis


def known(value: T | None) -> T:
    """A figure the test expects to be published (not withheld as ``None``)."""
    assert value is not None
    return value
