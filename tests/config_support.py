"""The part of a test configuration every test shares: language, time zone, data dir, anonymity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Never set: tests get a fresh secret file in their own data directory.
UNSET_SECRET_ENV = "DEBATE_BOT_TEST_SECRET_UNSET"


def base_config_data(data_dir: Path) -> dict[str, Any]:
    return {
        "language": "fr",
        "timezone": "Europe/Paris",
        "data_dir": str(data_dir),
        "anonymity": {"min_group_size": 3, "secret_env": UNSET_SECRET_ENV},
    }


def write_config_file(
    directory: Path,
    *,
    data_dir: Path | None = None,
    database_url: str | None = None,
    schedule: str = "{manual: true}",
    round_duration: str = "1h",
    questions: str = "",
    stances: str = "[pour, contre, nuance, abstention]",
    log_level: str = "INFO",
    anonymity_extra: str = "",
    debate_extra: str = "",
) -> Path:
    """A ``config.yaml`` for the command line: console only (moderator alice), one debate."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    question_line = f"\n    questions: {questions}" if questions else ""
    database_line = f"database_url: {database_url}\n" if database_url else ""
    path.write_text(
        f"""
language: fr
data_dir: {data_dir or directory / "data"}
{database_line}log_level: {log_level}
anonymity: {{secret_env: {UNSET_SECRET_ENV}{anonymity_extra}}}
platforms:
  console: {{enabled: true, channel: general, moderators: [alice]}}
debates:
  - id: capitalisme-numerique
    title: "Le capitalisme numérique"
    pack: progressive-alliance-2018{question_line}
    schedule: {schedule}
    round_duration: {round_duration}
    stances: {stances}
    channels:
      - {{platform: console, channel: general}}
{debate_extra}""",
        encoding="utf-8",
    )
    return path
