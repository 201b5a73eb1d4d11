"""Content checks for the packs shipped in ``debates/``.

Quotes must be quotes: every ``quote: true`` prompt and every French context is looked up, word
for word, in the source text the pack names (``source.seed``). The source texts live outside
the repository, in ``../shared/seeds/`` next to it, or wherever ``DEBATE_BOT_SEEDS`` points.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest

from bot.packs import Pack, default_packs_dir, load_packs, normalise_for_match

SEEDS_ENV = "DEBATE_BOT_SEEDS"
DEFAULT_SEEDS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"

PACKS_DIR = default_packs_dir()
PACK_IDS = sorted(path.stem for path in PACKS_DIR.glob("*.yaml"))


@cache
def _all_packs() -> dict[str, Pack]:
    return load_packs(PACKS_DIR)


def bundled(pack_id: str) -> Pack:
    return _all_packs()[pack_id]


def seeds_dir() -> Path:
    override = os.environ.get(SEEDS_ENV)
    directory = Path(override) if override else DEFAULT_SEEDS_DIR
    if not directory.is_dir():
        pytest.fail(
            f"source texts not found in {directory}: the verbatim checks need them. "
            f"Put the seed files there or set {SEEDS_ENV} to their directory.",
            pytrace=False,
        )
    return directory


@cache
def _read_seed(path: Path) -> str:
    return normalise_for_match(path.read_text(encoding="utf-8"))


def seed_text(pack: Pack) -> str:
    if pack.source.seed is None:
        pytest.fail(f"pack {pack.id} names no source.seed", pytrace=False)
    path = seeds_dir() / pack.source.seed
    if not path.is_file():
        pytest.fail(f"pack {pack.id}: source text {path} not found", pytrace=False)
    return _read_seed(path)


pack_ids = pytest.mark.parametrize("pack_id", PACK_IDS)


# --- normalise_for_match --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("l’œuvre", "l'œuvre"),
        ("« pas d’accord »", '" pas d\'accord "'),
        ("“the real thing”", '"the real thing"'),
        ("a\u00a0:\u202fb", "a : b"),
        ("**Écran total** et *big data* ou _gras_", "Écran total et big data ou gras"),
        ("une ligne\n\n\n\ncoupée   ici\t!", "une ligne coupée ici !"),
        ("  la peur, l'ennemi invisible…  ", "la peur, l'ennemi invisible..."),
    ],
)
def test_normalise_for_match(raw: str, expected: str) -> None:
    assert normalise_for_match(raw) == expected


def test_normalised_quote_is_found_across_a_page_break() -> None:
    seed = "Mais à qui ces données vont-elles appartenir ? Va-t-on créer des\n\n\n\nsystèmes"
    assert normalise_for_match("Va-t-on créer des systèmes") in normalise_for_match(seed)


def test_seeds_directory_is_present() -> None:
    directory = seeds_dir()
    for pack in _all_packs().values():
        assert pack.source.seed is not None, f"{pack.id}: bundled packs must name their seed"
        assert (directory / pack.source.seed).is_file(), f"{pack.id}: {pack.source.seed} missing"


# --- per pack -----------------------------------------------------------------------------


@pack_ids
def test_quoted_prompts_are_verbatim(pack_id: str) -> None:
    pack = bundled(pack_id)
    text = seed_text(pack)
    missing = [
        f"{item.id}: {item.prompt.fr}"
        for item in pack.items
        if item.quote and normalise_for_match(item.prompt.fr) not in text
    ]
    assert not missing, "quote: true prompts not found in the source:\n" + "\n".join(missing)


@pack_ids
def test_french_contexts_are_verbatim(pack_id: str) -> None:
    pack = bundled(pack_id)
    text = seed_text(pack)
    missing = [
        f"{item.id}: {item.context.fr}"
        for item in pack.items
        if normalise_for_match(item.context.fr) not in text
    ]
    assert not missing, "contexts not found in the source:\n" + "\n".join(missing)


@pack_ids
def test_item_ids_are_unique(pack_id: str) -> None:
    ids = bundled(pack_id).item_ids()
    assert len(ids) == len(set(ids))


@pack_ids
def test_both_languages_present(pack_id: str) -> None:
    for item in bundled(pack_id).items:
        for text in (item.prompt, item.context):
            assert text.fr.strip(), item.id
            assert text.en.strip(), item.id


@pack_ids
def test_prompts_are_translated(pack_id: str) -> None:
    same = [item.id for item in bundled(pack_id).items if item.prompt.en == item.prompt.fr]
    assert not same, f"English prompt identical to the French one: {same}"


@pack_ids
def test_prompts_end_as_sentences(pack_id: str) -> None:
    for item in bundled(pack_id).items:
        for text in (item.prompt.fr, item.prompt.en):
            assert text.rstrip()[-1] in ".?!", f"{item.id}: {text!r}"


# --- Progressive Alliance: every question of the paper --------------------------------------


def _questions(text: str) -> list[str]:
    """The sentences of ``text`` that end with a question mark (headings included)."""
    return [m.group(0).strip() for m in re.finditer(r"[^.?!:#]*\?", text)]


def test_every_question_of_the_progressive_alliance_paper_is_asked() -> None:
    pack = bundled("progressive-alliance-2018")
    questions = _questions(seed_text(pack))
    assert len(questions) >= 25
    asked = {normalise_for_match(item.prompt.fr) for item in pack.items if item.quote}
    missing = [q for q in questions if q not in asked]
    assert not missing, "questions of the paper with no item:\n" + "\n".join(missing)


def test_progressive_alliance_questions_keep_the_order_of_the_paper() -> None:
    pack = bundled("progressive-alliance-2018")
    text = seed_text(pack)
    positions = [
        text.index(normalise_for_match(item.prompt.fr))
        for item in pack.items
        if item.quote and item.prompt.fr.endswith("?")
    ]
    assert positions == sorted(positions)
