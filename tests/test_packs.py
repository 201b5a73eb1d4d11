"""Pack schema and loader: valid packs load, broken packs say where they are broken."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot import packs as packs_module
from bot.packs import (
    DEFAULT_STANCES,
    LocalizedText,
    Pack,
    PackError,
    PackItem,
    PackSource,
    StanceLabel,
    default_packs_dir,
    load_pack,
    load_packs,
    source_line,
)
from bot.yamlpos import LocatedErrors

VALID = """\
# A small pack used by the tests.
id: demo
title: "Un pack de démonstration"
source:
  title: "Un texte source"
  author: "Un collectif"
  date: "2018-09-01"
  url: "https://example.org/texte"
  seed: "demo.txt"
stances: [pour, contre, abstention]
stance_labels:
  oui:
    fr: "Oui"
    en: "Yes"
  non: {fr: "Non", en: "No"}
items:
  - id: premiere-question
    section: "Première partie"
    quote: true
    prompt:
      fr: "Qui décide ?"
      en: "Who decides?"
    context:
      fr: "Un extrait du texte."
      en: "An excerpt of the text."
    stances: [oui, non]
    tags: [democratie]
  - id: deuxieme-question
    section: "Seconde partie"
    quote: false
    prompt:
      fr: "Il faut décider ensemble."
      en: "We must decide together."
    context:
      fr: "Un autre extrait."
      en: "Another excerpt."
"""


def write_pack(directory: Path, text: str, stem: str = "demo") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def load_broken(tmp_path: Path, text: str, stem: str = "demo") -> PackError:
    path = write_pack(tmp_path / "debates", text, stem)
    with pytest.raises(PackError) as caught:
        load_pack(path, f"debates/{stem}.yaml")
    return caught.value


# --- valid packs ----------------------------------------------------------------------------


def test_valid_pack_loads(tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path, VALID))
    assert pack.id == "demo"
    assert pack.item_ids() == ["premiere-question", "deuxieme-question"]
    first = pack.item("premiere-question")
    assert first.quote is True
    assert first.prompt.get("fr") == "Qui décide ?"
    assert first.prompt.get("en") == "Who decides?"
    assert first.tags == ["democratie"]
    assert pack.item("deuxieme-question").tags == []
    assert pack.source.url == "https://example.org/texte"
    assert pack.source.seed == "demo.txt"


def test_item_lookup_raises_key_error(tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path, VALID))
    with pytest.raises(KeyError):
        pack.item("absente")


def test_stances_item_then_pack_then_fallback(tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path, VALID))
    assert pack.stances_for("premiere-question", DEFAULT_STANCES) == ["oui", "non"]
    assert pack.stances_for("deuxieme-question", DEFAULT_STANCES) == [
        "pour",
        "contre",
        "abstention",
    ]
    without_pack_stances = load_pack(
        write_pack(tmp_path, VALID.replace("stances: [pour, contre, abstention]\n", ""))
    )
    assert without_pack_stances.stances_for("deuxieme-question", DEFAULT_STANCES) == list(
        DEFAULT_STANCES
    )
    with pytest.raises(KeyError):
        pack.stances_for("absente", DEFAULT_STANCES)


def test_stance_labels_load(tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path, VALID))
    assert set(pack.stance_labels) == {"oui", "non"}
    assert pack.stance_labels["oui"] == StanceLabel(fr="Oui", en="Yes")


@pytest.mark.parametrize(
    ("stance", "lang", "expected"),
    [
        ("oui", "fr", "Oui"),
        ("oui", "en", "Yes"),
        ("non", "fr-CA", "Non"),
        ("non", "de", "No"),
        ("pour", "fr", None),
        ("absente", "en", None),
    ],
)
def test_stance_label(tmp_path: Path, stance: str, lang: str, expected: str | None) -> None:
    pack = load_pack(write_pack(tmp_path, VALID))
    assert pack.stance_label(stance, lang) == expected


def test_stance_labels_are_optional_without_custom_stances(tmp_path: Path) -> None:
    text = VALID.replace("    stances: [oui, non]\n", "").replace(
        VALID[VALID.index("stance_labels:") : VALID.index("items:")], ""
    )
    pack = load_pack(write_pack(tmp_path, text))
    assert pack.stance_labels == {}
    assert pack.stance_label("pour", "fr") is None


def test_default_stances_may_be_relabelled(tmp_path: Path) -> None:
    text = VALID.replace(
        "stance_labels:\n", 'stance_labels:\n  nuance: {fr: "Ça dépend", en: "It depends"}\n'
    )
    pack = load_pack(write_pack(tmp_path, text))
    assert pack.stance_label("nuance", "fr") == "Ça dépend"
    assert pack.stance_label("contre", "fr") is None


def test_labels_for_stances_the_pack_does_not_use_are_allowed(tmp_path: Path) -> None:
    # A debate of config.yaml may offer its own stances for a pack that lists none.
    text = VALID.replace(
        "stance_labels:\n", 'stance_labels:\n  peut-etre: {fr: "Peut-être", en: "Maybe"}\n'
    )
    assert load_pack(write_pack(tmp_path, text)).stance_label("peut-etre", "en") == "Maybe"


def test_unquoted_yaml_dates_are_accepted(tmp_path: Path) -> None:
    text = VALID.replace('date: "2018-09-01"', "date: 2018-09-01")
    assert load_pack(write_pack(tmp_path, text)).source.date == "2018-09-01"
    text = VALID.replace('date: "2018-09-01"', "date: 2018")
    assert load_pack(write_pack(tmp_path, text)).source.date == "2018"


def test_strings_are_stripped(tmp_path: Path) -> None:
    text = VALID.replace('fr: "Qui décide ?"', 'fr: "  Qui décide ?  "')
    assert load_pack(write_pack(tmp_path, text)).items[0].prompt.fr == "Qui décide ?"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr", "bonjour"),
        ("fr-CA", "bonjour"),
        ("FR_fr", "bonjour"),
        ("en", "hello"),
        ("de", "hello"),
    ],
)
def test_localized_text_get(lang: str, expected: str) -> None:
    assert LocalizedText(fr="bonjour", en="hello").get(lang) == expected


@pytest.mark.parametrize(
    ("date", "fr", "en"),
    [
        ("2018-09-01", "1er septembre 2018", "1 September 2018"),
        ("2016-11-14", "14 novembre 2016", "14 November 2016"),
        ("2021-04", "avril 2021", "April 2021"),
        ("2018", "2018", "2018"),
    ],
)
def test_source_line(tmp_path: Path, date: str, fr: str, en: str) -> None:
    pack = load_pack(write_pack(tmp_path, VALID.replace("2018-09-01", date)))
    assert source_line(pack, "fr") == f"Source : Un collectif, « Un texte source », {fr}"
    assert source_line(pack, "en") == f"Source: Un collectif, “Un texte source”, {en}"


def test_models_can_be_built_in_code() -> None:
    item = PackItem(
        id="q",
        section="S",
        quote=False,
        prompt=LocalizedText(fr="Oui ?", en="Yes?"),
        context=LocalizedText(fr="Extrait.", en="Excerpt."),
    )
    pack = Pack(
        id="p",
        title="T",
        source=PackSource(title="T", author="A", date="2020"),
        items=[item],
    )
    assert pack.stances_for("q", ["a", "b"]) == ["a", "b"]
    assert pack.item("q").context.get("en") == "Excerpt."


def test_stance_labels_can_be_built_in_code() -> None:
    item = PackItem(
        id="q",
        section="S",
        quote=False,
        prompt=LocalizedText(fr="Qui ?", en="Who?"),
        context=LocalizedText(fr="Extrait.", en="Excerpt."),
        stances=["etats", "citoyens"],
    )
    pack = Pack(
        id="p",
        title="T",
        source=PackSource(title="T", author="A", date="2020"),
        stance_labels={
            "etats": LocalizedText(fr="États", en="States"),
            "citoyens": StanceLabel(fr="Citoyens", en="Citizens"),
        },
        items=[item],
    )
    assert pack.stance_label("etats", "fr") == "États"
    assert pack.stance_label("citoyens", "en") == "Citizens"
    with pytest.raises(ValidationError, match=r"items\[0\] \(q\): citoyens"):
        Pack(
            id="p",
            title="T",
            source=PackSource(title="T", author="A", date="2020"),
            stance_labels={"etats": LocalizedText(fr="États", en="States")},
            items=[item],
        )


def test_missing_stance_label_rejected_in_code() -> None:
    data = {
        "id": "p",
        "title": "T",
        "source": {"title": "T", "author": "A", "date": "2020"},
        "stances": ["oui", "non"],
        "items": [
            {
                "id": "q",
                "section": "S",
                "quote": False,
                "prompt": {"fr": "Oui ?", "en": "Yes?"},
                "context": {"fr": "Extrait.", "en": "Excerpt."},
            }
        ],
    }
    with pytest.raises(ValidationError, match="stances 'oui', 'non' have no label"):
        Pack.model_validate(data)


def test_duplicate_item_ids_rejected_in_code() -> None:
    item = {
        "id": "q",
        "section": "S",
        "quote": False,
        "prompt": {"fr": "Oui ?", "en": "Yes?"},
        "context": {"fr": "Extrait.", "en": "Excerpt."},
    }
    data = {
        "id": "p",
        "title": "T",
        "source": {"title": "T", "author": "A", "date": "2020"},
        "items": [item, item],
    }
    with pytest.raises(ValidationError, match="duplicate item id"):
        Pack.model_validate(data)


def test_pack_error_is_a_located_error() -> None:
    assert issubclass(PackError, LocatedErrors)


# --- broken packs: every error names file, line and field ---------------------------------


def test_missing_field(tmp_path: Path) -> None:
    text = VALID.replace('      fr: "Qui décide ?"\n', "")
    error = load_broken(tmp_path, text)
    [err] = error.errors
    assert err.file == "debates/demo.yaml"
    assert err.key == "items[0].prompt.fr"
    assert err.line == line_of(text, "prompt:")
    assert err.message == "Field required"
    assert str(err) == f"debates/demo.yaml:{err.line} items[0].prompt.fr: Field required"


def test_missing_top_level_field(tmp_path: Path) -> None:
    text = VALID.replace('title: "Un pack de démonstration"\n', "")
    [err] = load_broken(tmp_path, text).errors
    assert err.key == "title"
    assert err.message == "Field required"
    assert err.line is not None


def test_unknown_key(tmp_path: Path) -> None:
    text = VALID.replace("    tags: [democratie]\n", "    tags: [democratie]\n    colour: blue\n")
    [err] = load_broken(tmp_path, text).errors
    assert (err.file, err.line, err.key) == (
        "debates/demo.yaml",
        line_of(text, "colour"),
        "items[0].colour",
    )
    assert err.message == "unknown key"


def test_unknown_key_in_source(tmp_path: Path) -> None:
    text = VALID.replace('  seed: "demo.txt"\n', '  seed: "demo.txt"\n  publisher: "X"\n')
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key, err.message) == (
        line_of(text, "publisher"),
        "source.publisher",
        "unknown key",
    )


@pytest.mark.parametrize("bad_id", ["Premiere", "premiere_question", "-premiere", "première", ""])
def test_bad_item_id(tmp_path: Path, bad_id: str) -> None:
    text = VALID.replace("- id: premiere-question", f'- id: "{bad_id}"')
    [err] = load_broken(tmp_path, text).errors
    assert err.key == "items[0].id"
    assert err.line == line_of(text, f'- id: "{bad_id}"')
    assert "not a valid id" in err.message


def test_bad_stance_id(tmp_path: Path) -> None:
    text = VALID.replace("stances: [oui, non]", "stances: [oui, Non]")
    [err] = load_broken(tmp_path, text).errors
    assert err.key == "items[0].stances[1]"
    assert err.line == line_of(text, "stances: [oui, Non]")
    assert "not a valid id" in err.message


def test_repeated_stance(tmp_path: Path) -> None:
    text = VALID.replace("stances: [oui, non]", "stances: [oui, oui]")
    [err] = load_broken(tmp_path, text).errors
    assert err.key == "items[0].stances"
    assert "stance listed twice" in err.message


def test_duplicate_item_id_points_at_the_duplicate(tmp_path: Path) -> None:
    text = VALID.replace("- id: deuxieme-question", "- id: premiere-question")
    [err] = load_broken(tmp_path, text).errors
    assert err.key == "items[1].id"
    assert err.line == line_of(text, "- id: premiere-question", occurrence=2)
    assert "duplicate item id 'premiere-question'" in err.message


def test_item_stance_without_label(tmp_path: Path) -> None:
    text = VALID.replace("stances: [oui, non]", "stances: [oui, non, peut-etre]")
    [err] = load_broken(tmp_path, text).errors
    assert (err.file, err.line, err.key) == (
        "debates/demo.yaml",
        line_of(text, "stances: [oui, non, peut-etre]"),
        "items[0].stances",
    )
    assert err.message == (
        "stance 'peut-etre' has no label: give it one in stance_labels, with fr and en"
    )
    assert str(err).startswith(f"debates/demo.yaml:{err.line} items[0].stances: stance ")


def test_every_unlabelled_item_is_reported(tmp_path: Path) -> None:
    text = VALID.replace('  non: {fr: "Non", en: "No"}\n', "").replace(
        '      en: "Another excerpt."\n',
        '      en: "Another excerpt."\n    stances: [non, etats]\n',
    )
    errors = load_broken(tmp_path, text).errors
    assert [(err.line, err.key) for err in errors] == [
        (line_of(text, "stances: [oui, non]"), "items[0].stances"),
        (line_of(text, "stances: [non, etats]"), "items[1].stances"),
    ]
    assert errors[0].message.startswith("stance 'non' has no label")
    assert errors[1].message.startswith("stances 'non', 'etats' have no label")


def test_pack_stance_without_label(tmp_path: Path) -> None:
    text = VALID.replace("stances: [pour, contre, abstention]", "stances: [pour, contre, bof]")
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key) == (line_of(text, "stances: [pour, contre, bof]"), "stances")
    assert err.message.startswith("stance 'bof' has no label")


def test_bad_stance_label_key(tmp_path: Path) -> None:
    text = VALID.replace("  non: {", "  Non: {")
    errors = load_broken(tmp_path, text).errors
    assert [(err.line, err.key) for err in errors] == [
        (line_of(text, "  Non: {"), "stance_labels.Non")
    ]
    assert "not a valid id" in errors[0].message


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ('""', "must not be empty"),
        ('"  "', "must not be empty"),
        ('"' + "x" * 41 + '"', "too long: 41 characters, a stance label has at most 40"),
        ('"Oui\\nvraiment"', "a stance label fits on one line"),
    ],
)
def test_bad_stance_label(tmp_path: Path, label: str, message: str) -> None:
    text = VALID.replace('fr: "Oui"', f"fr: {label}")
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key, err.message) == (
        line_of(text, f"fr: {label}"),
        "stance_labels.oui.fr",
        message,
    )


def test_stance_label_needs_both_languages(tmp_path: Path) -> None:
    text = VALID.replace('  non: {fr: "Non", en: "No"}', '  non: {fr: "Non"}')
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key, err.message) == (
        line_of(text, "  non: {"),
        "stance_labels.non.en",
        "Field required",
    )


def test_stance_label_unknown_language(tmp_path: Path) -> None:
    text = VALID.replace(
        '  non: {fr: "Non", en: "No"}', '  non: {fr: "Non", en: "No", de: "Nein"}'
    )
    [err] = load_broken(tmp_path, text).errors
    assert (err.key, err.message) == ("stance_labels.non.de", "unknown key")


def test_over_long_context(tmp_path: Path) -> None:
    long_text = "mot " * 80
    text = VALID.replace('fr: "Un autre extrait."', f'fr: "{long_text.strip()}"')
    [err] = load_broken(tmp_path, text).errors
    assert err.key == "items[1].context.fr"
    assert err.line == line_of(text, "mot mot")
    assert "too long: 319 characters" in err.message
    assert "at most 300" in err.message


def test_prompts_may_be_longer_than_contexts(tmp_path: Path) -> None:
    long_prompt = "mot " * 80 + "?"
    text = VALID.replace('fr: "Qui décide ?"', f'fr: "{long_prompt}"')
    assert load_pack(write_pack(tmp_path, text)).items[0].prompt.fr.endswith("?")


def test_empty_text(tmp_path: Path) -> None:
    text = VALID.replace('en: "Who decides?"', 'en: "   "')
    [err] = load_broken(tmp_path, text).errors
    assert err.key == "items[0].prompt.en"
    assert err.line == line_of(text, 'en: "   "')
    assert err.message == "must not be empty"


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = VALID.replace("    stances: [oui, non]\n", "    stances: [oui, non\n")
    [err] = load_broken(tmp_path, text).errors
    assert err.file == "debates/demo.yaml"
    assert err.key == ""
    assert err.line is not None
    assert line_of(text, "stances: [oui, non") <= err.line <= line_of(text, "tags: [democratie]")
    assert err.message.startswith("invalid YAML")


def test_pack_id_must_equal_file_name(tmp_path: Path) -> None:
    [err] = load_broken(tmp_path, VALID, stem="autre-nom").errors
    assert err.file == "debates/autre-nom.yaml"
    assert (err.line, err.key) == (line_of(VALID, "id: demo"), "id")
    assert "must equal the file name 'autre-nom'" in err.message


@pytest.mark.parametrize("bad_date", ["1er septembre 2018", "2018-13", "2018-02-30", "18-09-01"])
def test_bad_date(tmp_path: Path, bad_date: str) -> None:
    text = VALID.replace('date: "2018-09-01"', f'date: "{bad_date}"')
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key) == (line_of(text, "date:"), "source.date")


def test_seed_is_a_file_name(tmp_path: Path) -> None:
    text = VALID.replace('seed: "demo.txt"', 'seed: "../seeds/demo.txt"')
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key) == (line_of(text, "seed:"), "source.seed")


def test_quote_must_be_boolean(tmp_path: Path) -> None:
    text = VALID.replace("quote: true", "quote: peut-être")
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key) == (line_of(text, "quote: peut-être"), "items[0].quote")


def test_no_items(tmp_path: Path) -> None:
    text = VALID.split("items:")[0] + "items: []\n"
    [err] = load_broken(tmp_path, text).errors
    assert (err.line, err.key) == (line_of(text, "items: []"), "items")


def test_several_errors_are_all_reported(tmp_path: Path) -> None:
    text = VALID.replace("    tags: [democratie]\n", "    colour: blue\n").replace(
        'author: "Un collectif"', 'author: ""'
    )
    keys = {err.key for err in load_broken(tmp_path, text).errors}
    assert keys == {"items[0].colour", "source.author"}


def test_empty_file(tmp_path: Path) -> None:
    [err] = load_broken(tmp_path, "# nothing yet\n").errors
    assert err.file == "debates/demo.yaml"
    assert "empty" in err.message


def test_not_a_mapping(tmp_path: Path) -> None:
    [err] = load_broken(tmp_path, "- id: demo\n").errors
    assert err.file == "debates/demo.yaml"
    assert err.line == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PackError) as caught:
        load_pack(tmp_path / "absent.yaml", "debates/absent.yaml")
    assert caught.value.errors[0].message == "file not found"


# --- load_packs -------------------------------------------------------------------------------


def test_load_packs_sorted_by_id(tmp_path: Path) -> None:
    directory = tmp_path / "debates"
    write_pack(directory, VALID.replace("id: demo", "id: zeta"), "zeta")
    write_pack(directory, VALID.replace("id: demo", "id: alpha"), "alpha")
    (directory / "notes.txt").write_text("not a pack", encoding="utf-8")
    assert list(load_packs(directory)) == ["alpha", "zeta"]


def test_load_packs_gathers_errors_of_all_files(tmp_path: Path) -> None:
    directory = tmp_path / "debates"
    write_pack(directory, VALID, "demo")
    write_pack(directory, VALID.replace("quote: true", "quote: maybe"), "un")
    write_pack(
        directory, VALID.replace("id: demo", "id: deux").replace("    tags", "    tag"), "deux"
    )
    with pytest.raises(PackError) as caught:
        load_packs(directory)
    located = {(err.file, err.key) for err in caught.value.errors}
    assert located == {
        ("debates/un.yaml", "id"),
        ("debates/un.yaml", "items[0].quote"),
        ("debates/deux.yaml", "items[0].tag"),
    }
    assert all(err.line is not None for err in caught.value.errors)


def test_load_packs_rejects_duplicate_pack_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "debates"
    write_pack(directory, VALID, "demo")
    write_pack(directory, VALID, "demo-copie")
    real_load_pack = packs_module.load_pack

    def same_stem(path: Path, display_name: str | None = None) -> Pack:
        # Simulate two files that declare the same id.
        return real_load_pack(path.with_name("demo.yaml"), display_name)

    monkeypatch.setattr(packs_module, "load_pack", same_stem)
    with pytest.raises(PackError) as caught:
        load_packs(directory)
    [err] = caught.value.errors
    assert err.file == "debates/demo.yaml"
    assert (err.line, err.key) == (line_of(VALID, "id: demo"), "id")
    assert "also used by debates/demo-copie.yaml" in err.message


def test_load_packs_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not found"):
        load_packs(tmp_path / "absent")


# --- the bundled packs ------------------------------------------------------------------------

BUNDLED = {
    "progressive-alliance-2018": 25,
    "ecran-total": 15,
    "cooperativisme-plateforme": 6,
    "coproduction-big-data": 6,
    "technologies-libertes": 6,
}

PROGRESSIVE_ALLIANCE_SECTIONS = [
    "La technologie pour qui ?",
    "Numérisation et justice",
    "Le capitalisme numérique",
    "Les plateformes",
    "L'oligarchie numérique",
    "Le combat pour les données",
    "Le meilleur des mondes du travail ?",
    "L'éducation numérique",
]


def test_default_packs_dir_is_the_repository_debates() -> None:
    assert default_packs_dir() == Path(__file__).resolve().parents[1] / "debates"


def test_bundled_packs_load() -> None:
    packs = load_packs(default_packs_dir())
    assert sorted(packs) == sorted(BUNDLED)
    assert list(packs) == sorted(packs)


@pytest.mark.parametrize(("pack_id", "minimum"), sorted(BUNDLED.items()))
def test_bundled_pack_sizes(pack_id: str, minimum: int) -> None:
    pack = load_packs(default_packs_dir())[pack_id]
    assert len(pack.items) >= minimum


@pytest.mark.parametrize("pack_id", sorted(BUNDLED))
def test_bundled_custom_stances_are_labelled(pack_id: str) -> None:
    pack = load_packs(default_packs_dir())[pack_id]
    used = {s for item in pack.items for s in item.stances or ()} | set(pack.stances or ())
    for stance in sorted(used - set(DEFAULT_STANCES)):
        for lang in ("fr", "en"):
            label = pack.stance_label(stance, lang)
            assert label, f"{pack_id}: {stance} has no {lang} label"
            assert label != stance, f"{pack_id}: the {lang} label of {stance} is its id"
            assert label[0].isupper(), f"{pack_id}: {label!r} should start with a capital"
            assert len(label) <= 40


def test_bundled_labels_read_as_answers() -> None:
    packs = load_packs(default_packs_dir())
    pa = packs["progressive-alliance-2018"]
    expected = {
        "etats": ("États", "States"),
        "presque-tous": ("Presque tous", "Almost all"),
        "faciliter-la-vie": ("Faciliter la vie", "Making life easier"),
        "rifkin": ("Rifkin", "Rifkin"),
        "en-mieux": ("En mieux", "For the better"),
    }
    for stance, (fr, en) in expected.items():
        assert (pa.stance_label(stance, "fr"), pa.stance_label(stance, "en")) == (fr, en)
    assert packs["technologies-libertes"].stance_label("droit", "en") == "Through the law"
    assert packs["coproduction-big-data"].stance_label("fiscalite", "fr") == "Par la fiscalité"


def test_progressive_alliance_covers_every_section_in_order() -> None:
    pack = load_packs(default_packs_dir())["progressive-alliance-2018"]
    sections = list(dict.fromkeys(item.section for item in pack.items))
    assert sections == PROGRESSIVE_ALLIANCE_SECTIONS
    assert sum(item.quote for item in pack.items) >= 25
