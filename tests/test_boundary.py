"""The core never imports a chat library."""

from __future__ import annotations

import subprocess
import sys


def test_core_does_not_import_discord_or_nio() -> None:
    code = (
        "import sys, bot.engine, bot.app, bot.commands, bot.cli, bot.adapters.console;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('discord', 'nio')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
