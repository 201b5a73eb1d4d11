"""YAML loading that remembers where each key came from.

Config and pack files are validated with pydantic; its errors carry a location such as
``("debates", 0, "schedule", "cron")``. To point a person at the right line we keep, for every
key path, the line it starts on, and render errors as ``config.yaml:14 debates[0].schedule.cron:
message``.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class LocatedError:
    """One problem in a file: where it is and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class LocatedErrors(Exception):
    """A set of :class:`LocatedError` found in one or more files."""

    def __init__(self, errors: Sequence[LocatedError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def format_key(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, prefix: PathKey, lines: dict[PathKey, int]) -> None:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            path = (*prefix, key)
            lines[path] = key_node.start_mark.line + 1
            _walk(value_node, path, lines)
            lines[path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*prefix, index), lines)


@dataclass
class LoadedYaml:
    """Parsed data with a line for each key path."""

    file: str
    data: Any
    lines: dict[PathKey, int]

    def line_for(self, path: Sequence[str | int]) -> int | None:
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def errors_from(
        self,
        exc: ValidationError,
        known_keys: Collection[str] = (),
        union_tags: Collection[str] = (),
    ) -> LocatedErrors:
        """Turn a pydantic error into located errors against this file.

        ``known_keys`` are the keys the schema knows anywhere: an unknown key close to one of
        them (``discrod``) gets a "did you mean" hint. ``union_tags`` are the tags of the
        schema's tagged unions beyond the schedule kinds (the platform names, say): pydantic
        puts them in error locations, where they are not keys of the file.
        """
        errors = []
        tags = SYNTHETIC_PARTS | frozenset(union_tags)
        for err in exc.errors():
            loc = [p for p in err["loc"] if isinstance(p, str | int)]
            loc = self._document_path(loc, tags)
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key"
                key = loc[-1] if loc else ""
                close = difflib.get_close_matches(str(key), list(known_keys), n=1, cutoff=0.7)
                if close:
                    message += f" (did you mean {close[0]!r}?)"
            elif message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            elif message.startswith("Assertion failed, "):
                message = message[len("Assertion failed, ") :]
            errors.append(LocatedError(self.file, self.line_for(loc), format_key(loc), message))
        return LocatedErrors(errors)

    def _document_path(self, loc: list[str | int], tags: frozenset[str]) -> list[str | int]:
        """Drop the names pydantic inserts for union members (tags, validator names).

        A part is synthetic when it is not a key of the document at that place but the part
        after it is; a missing key (the last part, not in the document) is kept.
        """
        out: list[str | int] = []
        for index, part in enumerate(loc):
            if part == "[key]":  # pydantic's marker for an error in a mapping key
                continue
            if (*out, part) in self.lines:
                out.append(part)
                continue
            following = loc[index + 1] if index + 1 < len(loc) else None
            synthetic = isinstance(part, str) and (part in tags or "[" in part or "(" in part)
            if following is not None and ((*out, following) in self.lines or synthetic):
                continue
            out.append(part)
        return out


# Names pydantic puts in error locations that are not keys of the file (the schedule union's
# tags; the platform names come from the platform registry).
SYNTHETIC_PARTS = frozenset(
    {
        "cron-schedule",
        "at-schedule",
        "every-schedule",
        "manual-schedule",
    }
)


def load_yaml(path: Path, display_name: str | None = None) -> LoadedYaml:
    """Parse ``path``; syntax errors become :class:`LocatedErrors` with the line."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LocatedErrors([LocatedError(name, None, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise LocatedErrors([LocatedError(name, None, "", f"not UTF-8 text: {exc}")]) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> LoadedYaml:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = exc.problem or str(exc)
        raise LocatedErrors(
            [LocatedError(name, line, "", f"invalid YAML: {_yaml_hint(msg)}")]
        ) from None
    except yaml.YAMLError as exc:
        raise LocatedErrors([LocatedError(name, None, "", f"invalid YAML: {exc}")]) from None
    lines: dict[PathKey, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LoadedYaml(name, data, lines)


def _yaml_hint(problem: str) -> str:
    """PyYAML's message, with what to do about it in words an organiser knows."""
    if "'\\t'" in problem:  # PyYAML shows a tab as its repr
        return "a tab character: indent with spaces only"
    if "expected <block end>" in problem or "block mapping" in problem:
        return (
            "the indentation does not line up here: keys of the same mapping start in the same "
            "column, and list items ('- ') under their key"
        )
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be put in quotes"
    if "could not find expected ':'" in problem:
        return "a key without ':' (or a value split over lines: put it in quotes)"
    return problem
