"""Debate packs: the questions a debate asks, read from ``debates/<pack-id>.yaml``.

A pack gathers the prompts of one source text (a paper, a brochure, an interview). Each round
of a debate asks one item of its pack. Every prompt and context exists in French and English;
``context.fr`` is always an excerpt of the source, word for word, and so is ``prompt.fr`` when
``quote`` is true. :func:`normalise_for_match` is the comparison used to check that.

Stances other than the four defaults (``pour``, ``contre``, ``nuance``, ``abstention``) are
shown with the labels the pack gives them in ``stance_labels``, in French and English.

Packs are validated when they are loaded: unknown keys, bad ids, duplicate item ids, an ``id``
that differs from the file name, empty texts, over-long contexts and labels, and custom stances
without a label are all reported with the file, the line and the field, e.g.
``debates/x.yaml:14 items[3].prompt.fr: Field required``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.yamlpos import LoadedYaml, LocatedError, LocatedErrors, format_key, load_yaml

__all__ = [
    "CONTEXT_MAX_CHARS",
    "DEFAULT_STANCES",
    "STANCE_LABEL_MAX_CHARS",
    "LocalizedText",
    "Pack",
    "PackError",
    "PackItem",
    "PackSource",
    "StanceLabel",
    "default_packs_dir",
    "load_pack",
    "load_packs",
    "normalise_for_match",
    "source_line",
]

DEFAULT_STANCES: tuple[str, ...] = ("pour", "contre", "nuance", "abstention")
"""The stances offered when neither the item nor the pack lists its own."""

CONTEXT_MAX_CHARS = 300
"""Longest context excerpt, per language."""

STANCE_LABEL_MAX_CHARS = 40
"""Longest stance label, per language."""

LANGUAGES: tuple[str, ...] = ("fr", "en")

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")

# Context keys used while a pack is loaded from a file (see ``load_pack``).
_CTX_STEM = "file_stem"
_CTX_SEEN_ITEMS = "seen_item_ids"
_CTX_LABELLED = "labelled_stances"


# --- field checks -----------------------------------------------------------------------------


def _non_empty(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be empty")
    return stripped


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid id: use lowercase letters a-z, digits and hyphens, "
            "starting with a letter or a digit"
        )
    return value


def _context_length(value: str) -> str:
    if len(value) > CONTEXT_MAX_CHARS:
        raise ValueError(
            f"too long: {len(value)} characters, a context has at most {CONTEXT_MAX_CHARS}"
        )
    return value


def _label_length(value: str) -> str:
    if len(value) > STANCE_LABEL_MAX_CHARS:
        raise ValueError(
            f"too long: {len(value)} characters, a stance label has at most "
            f"{STANCE_LABEL_MAX_CHARS}"
        )
    if "\n" in value or "\r" in value:
        raise ValueError("a stance label fits on one line")
    return value


def _unlabelled(stances: Sequence[str], labelled: Collection[str]) -> list[str]:
    """The stances of ``stances`` that are not defaults and have no label in ``labelled``."""
    return [s for s in stances if s not in DEFAULT_STANCES and s not in labelled]


def _unlabelled_message(missing: Sequence[str]) -> str:
    names = ", ".join(repr(s) for s in missing)
    if len(missing) == 1:
        return f"stance {names} has no label: give it one in stance_labels, with fr and en"
    return f"stances {names} have no label: give them one in stance_labels, with fr and en"


def _stance_list(value: list[str]) -> list[str]:
    if len(value) < 2:
        raise ValueError("list at least two stances")
    duplicates = sorted({s for s in value if value.count(s) > 1})
    if duplicates:
        raise ValueError(f"stance listed twice: {', '.join(duplicates)}")
    return value


def _iso_date(value: str) -> str:
    match = _DATE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a date: write YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = match.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date ({exc})") from None
    return value


def _seed_name(value: str) -> str:
    if "/" in value or "\\" in value or value in {".", ".."}:
        raise ValueError("give the file name of the source text only, without a directory")
    return value


NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
Slug = Annotated[str, AfterValidator(_slug)]
ContextStr = Annotated[str, AfterValidator(_non_empty), AfterValidator(_context_length)]
LabelStr = Annotated[str, AfterValidator(_non_empty), AfterValidator(_label_length)]
StanceList = Annotated[list[Slug], AfterValidator(_stance_list)]


# --- models -----------------------------------------------------------------------------------


def _language(lang: str) -> str:
    """``"fr"``, ``"fr-CA"``, ``"FR_fr"`` -> ``"fr"``; anything not French reads English."""
    primary = re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return primary if primary in LANGUAGES else "en"


class LocalizedText(BaseModel):
    """A text in French and English."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fr: NonEmptyStr
    en: NonEmptyStr

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``fr``, ``en``, ``fr-FR``...); other languages get English."""
        return self.fr if _language(lang) == "fr" else self.en


class ContextText(LocalizedText):
    """A short excerpt shown with a prompt: at most :data:`CONTEXT_MAX_CHARS` per language."""

    fr: ContextStr
    en: ContextStr


class StanceLabel(LocalizedText):
    """The label of a stance: at most :data:`STANCE_LABEL_MAX_CHARS` per language, one line."""

    fr: LabelStr
    en: LabelStr


def _as_stance_label(value: Any) -> Any:
    if isinstance(value, LocalizedText) and not isinstance(value, StanceLabel):
        return value.model_dump()
    return value


class PackSource(BaseModel):
    """Where the prompts of a pack come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: NonEmptyStr
    author: NonEmptyStr
    date: Annotated[str, AfterValidator(_non_empty), AfterValidator(_iso_date)]
    url: NonEmptyStr | None = None
    seed: Annotated[str, AfterValidator(_non_empty), AfterValidator(_seed_name)] | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # An unquoted ``date: 2018-09-01`` is read by YAML as a date, ``2018`` as an integer.
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


class PackItem(BaseModel):
    """One prompt of a pack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    section: NonEmptyStr
    quote: bool
    prompt: LocalizedText
    context: ContextText
    stances: StanceList | None = None
    tags: list[Slug] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _unique_in_file(cls, value: str, info: ValidationInfo) -> str:
        # While a file is loaded, ids already seen are passed in the validation context so the
        # error points at the duplicate itself rather than at the whole list.
        seen = info.context.get(_CTX_SEEN_ITEMS) if isinstance(info.context, dict) else None
        if isinstance(seen, set):
            if value in seen:
                raise ValueError(f"duplicate item id {value!r}: item ids must be unique")
            seen.add(value)
        return value

    @field_validator("stances")
    @classmethod
    def _labelled(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # While a file is loaded, the pack's labelled stances are passed in the validation
        # context so that a missing label is reported on the item that uses the stance.
        labelled = info.context.get(_CTX_LABELLED) if isinstance(info.context, dict) else None
        if value is not None and isinstance(labelled, frozenset):
            missing = _unlabelled(value, labelled)
            if missing:
                raise ValueError(_unlabelled_message(missing))
        return value

    @field_validator("context", mode="before")
    @classmethod
    def _accept_localized_text(cls, value: Any) -> Any:
        if isinstance(value, LocalizedText) and not isinstance(value, ContextText):
            return value.model_dump()
        return value


class Pack(BaseModel):
    """A debate pack: a source and the items taken from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: NonEmptyStr
    source: PackSource
    # Declared before ``stances`` and ``items``, which are validated after it and checked
    # against it.
    stance_labels: dict[Slug, Annotated[StanceLabel, BeforeValidator(_as_stance_label)]] = Field(
        default_factory=dict, validate_default=True
    )
    stances: StanceList | None = None
    items: Annotated[list[PackItem], Field(min_length=1)]

    @field_validator("id")
    @classmethod
    def _matches_file_name(cls, value: str, info: ValidationInfo) -> str:
        stem = info.context.get(_CTX_STEM) if isinstance(info.context, dict) else None
        if isinstance(stem, str) and value != stem:
            raise ValueError(f"the pack id {value!r} must equal the file name {stem!r}")
        return value

    @field_validator("stance_labels")
    @classmethod
    def _share_labelled(
        cls, value: dict[str, StanceLabel], info: ValidationInfo
    ) -> dict[str, StanceLabel]:
        if isinstance(info.context, dict) and _CTX_LABELLED in info.context:
            info.context[_CTX_LABELLED] = frozenset(value)
        return value

    @field_validator("stances")
    @classmethod
    def _pack_stances_labelled(
        cls, value: list[str] | None, info: ValidationInfo
    ) -> list[str] | None:
        labels = info.data.get("stance_labels")
        if value is not None and isinstance(labels, dict):
            missing = _unlabelled(value, labels)
            if missing:
                raise ValueError(_unlabelled_message(missing))
        return value

    @model_validator(mode="after")
    def _items_labelled(self) -> Pack:
        # Items built in code, or validated without the loading context, are checked here.
        problems = [
            f"items[{index}] ({item.id}): {', '.join(missing)}"
            for index, item in enumerate(self.items)
            if (missing := _unlabelled(item.stances or (), self.stance_labels))
        ]
        if problems:
            raise ValueError(
                "stances without a label: "
                + "; ".join(problems)
                + ". Give each one a label in stance_labels, with fr and en"
            )
        return self

    @model_validator(mode="after")
    def _unique_item_ids(self) -> Pack:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"duplicate item id {item.id!r}: item ids must be unique")
            seen.add(item.id)
        return self

    def item(self, item_id: str) -> PackItem:
        """The item with this id; :class:`KeyError` if the pack has none."""
        for candidate in self.items:
            if candidate.id == item_id:
                return candidate
        raise KeyError(f"pack {self.id!r} has no item {item_id!r}")

    def item_ids(self) -> list[str]:
        """Item ids in the order of the file."""
        return [item.id for item in self.items]

    def stance_label(self, stance: str, lang: str) -> str | None:
        """The pack's label for ``stance`` in ``lang`` (``fr``, ``en``, ``fr-FR``...).

        ``None`` when the pack gives the stance no label: the default stances are labelled by
        the bot's own messages, and a stance of the debate configuration may be unknown here.
        """
        label = self.stance_labels.get(stance)
        return label.get(lang) if label is not None else None

    def stances_for(self, item_id: str, fallback: Sequence[str]) -> list[str]:
        """The stances of an item: its own, else the pack's, else ``fallback``."""
        item = self.item(item_id)
        if item.stances is not None:
            return list(item.stances)
        if self.stances is not None:
            return list(self.stances)
        return list(fallback)


class PackError(LocatedErrors):
    """One or more packs are invalid; ``errors`` says where and why."""


# --- loading ----------------------------------------------------------------------------------


def load_pack(path: Path, display_name: str | None = None) -> Pack:
    """Read and validate one pack file. Raises :class:`PackError`."""
    name = display_name or str(path)
    try:
        loaded = load_yaml(path, name)
    except LocatedErrors as exc:
        raise PackError(exc.errors) from None
    if loaded.data is None:
        raise PackError(
            [
                LocatedError(
                    name, None, "", "the file is empty: a pack needs id, title, source and items"
                )
            ]
        )
    context: dict[str, Any] = {
        _CTX_STEM: path.stem,
        _CTX_SEEN_ITEMS: set(),
        _CTX_LABELLED: None,
    }
    try:
        return Pack.model_validate(loaded.data, context=context)
    except ValidationError as exc:
        raise PackError(_located(loaded, exc)) from None


def _located(loaded: LoadedYaml, exc: ValidationError) -> list[LocatedError]:
    """Errors of ``exc`` against the file, keeping the full key of a missing field.

    :meth:`LoadedYaml.errors_from` trims location parts that are not keys of the document, to
    hide the tags pydantic adds for union members. A missing field is by definition not in the
    document, and pack models have no tagged unions, so its key is restored in full. A bad key
    of a mapping (``stance_labels``) is reported on that key, without pydantic's ``[key]``.
    """
    located = loaded.errors_from(exc).errors
    out: list[LocatedError] = []
    for raw, err in zip(exc.errors(), located, strict=True):
        parts = [p for p in raw["loc"] if isinstance(p, str | int)]
        if raw["type"] == "missing":
            err = replace(err, key=format_key(parts))
        elif parts and parts[-1] == "[key]":
            key_path = parts[:-1]
            err = replace(err, key=format_key(key_path), line=loaded.line_for(key_path))
        out.append(err)
    return out


def load_packs(directory: Path) -> dict[str, Pack]:
    """Load every ``*.yaml`` pack of ``directory``, keyed and sorted by id.

    Errors of all files are gathered into one :class:`PackError`, so a single run shows
    everything that needs fixing.
    """
    if not directory.is_dir():
        raise PackError([LocatedError(str(directory), None, "", "pack directory not found")])
    packs: dict[str, Pack] = {}
    files: dict[str, str] = {}
    errors: list[LocatedError] = []
    for path in sorted(directory.glob("*.yaml")):
        if not path.is_file():
            continue
        name = f"{directory.name}/{path.name}"
        try:
            pack = load_pack(path, name)
        except PackError as exc:
            errors.extend(exc.errors)
            continue
        if pack.id in packs:
            line = load_yaml(path, name).line_for(("id",))
            errors.append(
                LocatedError(
                    name, line, "id", f"pack id {pack.id!r} is also used by {files[pack.id]}"
                )
            )
            continue
        packs[pack.id] = pack
        files[pack.id] = name
    if errors:
        raise PackError(errors)
    return {pack_id: packs[pack_id] for pack_id in sorted(packs)}


def default_packs_dir() -> Path:
    """The ``debates/`` directory shipped with the bot."""
    return Path(__file__).resolve().parent.parent / "debates"


# --- presentation -----------------------------------------------------------------------------

_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def _format_date(value: str, lang: str) -> str:
    match = _DATE.fullmatch(value)
    if match is None:
        return value
    year, month, day = match.groups()
    if month is None:
        return year
    month_name = _MONTHS[lang][int(month) - 1]
    if day is None:
        return f"{month_name} {year}"
    day_number = int(day)
    day_text = "1er" if lang == "fr" and day_number == 1 else str(day_number)
    return f"{day_text} {month_name} {year}"


def source_line(pack: Pack, lang: str) -> str:
    """One line crediting the source, e.g. ``Source : Auteur, « Titre », 1er septembre 2018``."""
    src = pack.source
    if _language(lang) == "fr":
        return f"Source : {src.author}, « {src.title} », {_format_date(src.date, 'fr')}"
    return f"Source: {src.author}, “{src.title}”, {_format_date(src.date, 'en')}"


# --- verbatim matching ------------------------------------------------------------------------

_QUOTE_MARKS = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "‛": "'",
        "ʼ": "'",
        "«": '"',
        "»": '"',
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "\u00a0": " ",
        "\u202f": " ",
        "\u2007": " ",
        "\u2009": " ",
    }
)
_EMPHASIS = re.compile(r"\*+|_+")
_SPACES = re.compile(r"\s+")


def normalise_for_match(text: str) -> str:
    """Text reduced to what a verbatim quote must share with its source.

    Typographic apostrophes become ``'``, guillemets and curly quotes ``"``, non-breaking and
    thin spaces plain spaces, ``…`` three dots; Markdown emphasis markers (``**``, ``*``, ``_``)
    are dropped and runs of whitespace (line and page breaks included) become one space.
    """
    text = text.translate(_QUOTE_MARKS).replace("…", "...")
    text = _EMPHASIS.sub("", text)
    return _SPACES.sub(" ", text).strip()
