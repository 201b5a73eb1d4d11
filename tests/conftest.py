"""Shared fixtures: a config builder, SQLite and PostgreSQL databases, a running app."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from config_support import base_config_data

from bot.config import Config, ConsoleConfig
from bot.platforms import AdapterContext

PG_ADMIN_URL = os.environ.get(
    "DEBATE_BOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    """A valid config on a temp data dir, console only, one manual debate."""
    data: dict[str, Any] = {
        **base_config_data(tmp_path / "data"),
        "platforms": {"console": {"enabled": True, "channel": "general", "moderators": ["alice"]}},
        "debates": [
            {
                "id": "capitalisme-numerique",
                "title": "Le capitalisme numérique",
                "pack": "progressive-alliance-2018",
                "schedule": {"manual": True},
                "round_duration": "1h",
                "channels": [{"platform": "console", "channel": "general"}],
            }
        ],
    }
    data.update(overrides)
    return Config.model_validate(data)


@pytest.fixture
def config_factory(tmp_path: Path) -> Callable[..., Config]:
    return lambda **overrides: make_config(tmp_path, **overrides)


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(
            PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3
        ):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not pg_available:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not answering on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432")
    import psycopg

    name = f"debatebot_test_{secrets.token_hex(4)}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'debates.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Builds started Apps with a console adapter writing into a buffer; stops them all."""
    import io

    from bot.adapters.console import ConsoleAdapter
    from bot.app import App

    started: list[App] = []

    async def build(config: Config, start: bool = True) -> tuple[App, io.StringIO]:
        out = io.StringIO()

        def console(context: AdapterContext[ConsoleConfig]) -> ConsoleAdapter:
            return ConsoleAdapter(context.settings, context.commands, context.export_dir, out=out)

        app = App(config, adapters={"console": console}, tick_seconds=3600)
        if start:
            await app.start()
            started.append(app)
        return app, out

    yield build
    for app in started:
        await app.stop()
