"""The code stays in pieces a maintainer can read: no class over 400 lines and no function over
60 lines anywhere in ``bot/`` or ``cogs/`` (tests aside)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 60


def too_long(root: Path, packages: tuple[str, ...] = ("bot", "cogs")) -> list[str]:
    """Every class and function of ``packages`` under ``root`` that is over its limit."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    limit = MAX_CLASS_LINES
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    limit = MAX_FUNCTION_LINES
                else:
                    continue
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > limit:
                    where = path.relative_to(root)
                    found.append(f"{where}:{node.lineno} {node.name}: {lines} lines")
    return found


def test_no_class_or_function_is_too_long() -> None:
    assert too_long(ROOT) == []


def test_the_check_finds_what_is_too_long(tmp_path: Path) -> None:
    package = tmp_path / "bot"
    package.mkdir()
    fine = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES - 1))
    long = "\n".join(f"        y{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (package / "m.py").write_text(
        f"def fine():\n{fine}\n\n\nclass C:\n    def long(self):\n{long}\n", encoding="utf-8"
    )
    # fine() spans lines 1-60, the class starts on line 63 and long() on 64.
    assert too_long(tmp_path, ("bot",)) == [f"bot/m.py:64 long: {MAX_FUNCTION_LINES + 1} lines"]
