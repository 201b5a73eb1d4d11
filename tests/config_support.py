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
