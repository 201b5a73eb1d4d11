"""The summary's types, its JSON Schema and the documentation cannot drift apart.

``docs/summary-schema.md`` holds the JSON Schema of the stored summary; ``bot.summary.model``
holds its TypedDicts. Every object of the schema is matched with the TypedDict that types it,
key for key (and required key for required key), and real summaries — built from the planted
rounds, and from a round played through the engine on SQLite — validate against the schema.
"""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import jsonschema
import pytest
from planted_round import planted_data, planted_with_small_group

from bot.summary import build_summary
from bot.summary.export import render_json
from bot.summary.model import RoundData, Summary

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "summary-schema.md"


def documented_schema() -> dict[str, Any]:
    blocks = re.findall(r"```json\n(.*?)```", SCHEMA_DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "docs/summary-schema.md holds one JSON Schema block"
    schema: dict[str, Any] = json.loads(blocks[0])
    return schema


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        resolved: dict[str, Any] = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            resolved = resolved[part]
        node = {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _typed_dicts(annotation: Any) -> list[Any]:
    """The TypedDicts an annotation holds, through ``X | None`` and ``list[X]``."""
    if is_typeddict(annotation):
        return [annotation]
    if get_origin(annotation) in (typing.Union, types.UnionType, list):
        return [t for arg in get_args(annotation) for t in _typed_dicts(arg)]
    return []


def _object_of(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The object schema a property describes, through arrays."""
    node = _resolve(schema, node)
    while "items" in node and "properties" not in node:
        node = _resolve(schema, node["items"])
    return node


def check_typed_dict(schema: dict[str, Any], node: dict[str, Any], typed: Any, path: str) -> int:
    """Match one TypedDict with its schema object, and recurse; return how many were."""
    node = _object_of(schema, node)
    hints = get_type_hints(typed)
    assert set(hints) == set(node["properties"]), f"{path}: {typed.__name__} vs the schema"
    assert set(typed.__required_keys__) == set(node.get("required", [])), path
    checked = 1
    for key, annotation in hints.items():
        for inner in _typed_dicts(annotation):
            checked += check_typed_dict(schema, node["properties"][key], inner, f"{path}.{key}")
    return checked


def test_the_typed_dicts_match_the_documented_schema() -> None:
    schema = documented_schema()
    # Summary, round, stances, tally, arguments, top arguments, carried-over arguments, themes
    # (and their terms, themes and quotes), analysis (groups, representative arguments,
    # consensus, common ground) and reproducibility: every object of the schema has its
    # TypedDict.
    assert check_typed_dict(schema, schema, Summary, "summary") == 17


def test_the_round_data_carries_the_summary_round() -> None:
    assert get_type_hints(RoundData)["round"] is get_type_hints(Summary)["round"]


@pytest.mark.parametrize(
    "data",
    [
        planted_data(tricky=True),
        planted_data(min_group_size=40),
        planted_with_small_group()[0],
        {**planted_data(), "votes": []},
        {**planted_data(), "arguments": [], "votes": []},
    ],
    ids=["planted", "withheld", "small-group", "no-votes", "no-arguments"],
)
def test_built_summaries_follow_the_schema(data: RoundData) -> None:
    summary = build_summary(data)
    schema = documented_schema()
    exported = json.loads(render_json(summary))
    jsonschema.validate(exported, schema, cls=jsonschema.Draft202012Validator)
    assert exported == summary  # the JSON export is the stored summary


async def test_a_round_summarised_by_the_engine_follows_the_schema(
    tmp_path: Path, config_factory: Any, app_factory: Any
) -> None:
    """A round played through the console on SQLite: ``Engine._collect``'s data, built and
    stored, then loaded back (``load_summary``), is a summary of the documented schema."""
    url = f"sqlite:///{tmp_path / 'db' / 'debates.db'}"
    app, _ = await app_factory(config_factory(database_url=url))
    console = app.adapters["console"]

    async def say(line: str) -> str:
        return "\n".join(r.text for r in await console.feed(line))

    await say("@alice !debat ouvrir capitalisme-numerique")
    r = app.engine.open_rounds()[0]
    for i, who in enumerate(("bob", "carol", "dave", "erin")):
        await say(f"@{who} dm !position {r.stances[i % 2]} Argument numéro {i} de {who}.")
    for who in ("bob", "carol", "dave", "erin"):
        prompt = await say(f"@{who} dm !voter")
        while "Répondez" in prompt:
            prompt = await say(f"@{who} dm 1")
    assert "fermé" in await say("@alice !debat fermer")
    summary = await app.engine.summary(r.id)
    assert summary is not None and summary["votes"] == 4 * 3
    jsonschema.validate(summary, documented_schema(), cls=jsonschema.Draft202012Validator)
    assert json.loads(render_json(summary)) == summary
