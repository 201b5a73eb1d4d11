"""Fixtures for the Matrix tests: one real Synapse per session, fresh users and bots per test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from config_support import base_config_data
from matrix_homeserver import Synapse
from matrix_members import Member

from bot.adapters.matrix import MatrixAdapter
from bot.app import App
from bot.config import Config, MatrixConfig
from bot.platforms import AdapterContext

PASSWORD_ENV = "DEBATE_BOT_TEST_MATRIX_PASSWORD"
TOKEN_ENV = "DEBATE_BOT_TEST_MATRIX_TOKEN"
DEBATE = "plateformes"


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A Synapse homeserver on 127.0.0.1, stopped at the end of the session (even on failure)."""
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    try:
        server.generate()
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class Users:
    """The accounts of one test: ``ids[name]`` and ``passwords[name]``."""

    ids: dict[str, str]
    passwords: dict[str, str]


@pytest.fixture
def users(synapse: Synapse) -> Users:
    """Fresh accounts for this test (bot, moderator and members), so tests cannot interfere."""
    prefix = secrets.token_hex(3)
    names = ["bot", "mod", "alice", "bob", "carol"]
    passwords = {name: secrets.token_urlsafe(12) for name in names}
    with ThreadPoolExecutor(len(names)) as pool:
        ids = list(
            pool.map(lambda name: synapse.register(f"{prefix}-{name}", passwords[name]), names)
        )
    return Users(dict(zip(names, ids, strict=True)), passwords)


@pytest.fixture
async def members(
    synapse: Synapse, users: Users, tmp_path: Path
) -> AsyncIterator[dict[str, Member]]:
    """Logged-in, syncing clients for the moderator and the members."""
    started: dict[str, Member] = {}
    try:
        for name in ("mod", "alice", "bob", "carol"):
            member = Member(
                synapse.url, users.ids[name], users.passwords[name], tmp_path / "clients" / name
            )
            await member.start()
            started[name] = member
        yield started
    finally:
        for member in started.values():
            await member.stop()


def bot_config(
    data_dir: Path,
    homeserver: str,
    bot_id: str,
    channel: str,
    *,
    debates: list[dict[str, Any]] | None = None,
    **matrix: Any,
) -> Config:
    """The bot's config: the test debate posted in ``channel`` (or ``debates``)."""
    return Config.model_validate(
        {
            **base_config_data(data_dir),
            "platforms": {
                "console": {"enabled": False},
                "matrix": {
                    "enabled": True,
                    "homeserver": homeserver,
                    "user_id": bot_id,
                    "access_token_env": None,
                    "password_env": PASSWORD_ENV,
                    "allowed_rooms": [channel],
                    **matrix,
                },
            },
            "debates": debates
            or [
                {
                    "id": DEBATE,
                    "title": "Plateformes",
                    "pack": "progressive-alliance-2018",
                    "questions": ["plateformes-1"],
                    "schedule": {"manual": True},
                    "round_duration": "1h",
                    "channels": [{"platform": "matrix", "room_id": channel}],
                }
            ],
        }
    )


class Bots:
    """Starts bots (an ``App`` with the Matrix adapter on a SQLite file); stops them all."""

    def __init__(self, synapse: Synapse, users: Users, tmp_path: Path) -> None:
        self.synapse = synapse
        self.users = users
        self.tmp_path = tmp_path
        self.running: list[App] = []

    async def start(
        self,
        channel: str,
        *,
        data: str = "bot",
        adapter: Callable[[MatrixAdapter], None] | None = None,
        homeserver: str | None = None,
        debates: list[dict[str, Any]] | None = None,
        **matrix: Any,
    ) -> App:
        config = bot_config(
            self.tmp_path / data,
            homeserver or self.synapse.url,
            self.users.ids["bot"],
            channel,
            debates=debates,
            **matrix,
        )

        def factory(context: AdapterContext[MatrixConfig]) -> MatrixAdapter:
            made = MatrixAdapter(context)
            if adapter is not None:
                adapter(made)
            return made

        app = App(config, adapters={"matrix": factory}, tick_seconds=1)
        self.running.append(app)
        await app.start()
        return app

    async def stop(self, app: App) -> None:
        self.running.remove(app)
        await app.stop()

    async def stop_all(self) -> None:
        while self.running:
            await self.stop(self.running[-1])


@pytest.fixture
async def bots(
    synapse: Synapse, users: Users, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bots]:
    monkeypatch.setenv(PASSWORD_ENV, users.passwords["bot"])
    made = Bots(synapse, users, tmp_path)
    try:
        yield made
    finally:
        await made.stop_all()


def adapter_of(app: App) -> MatrixAdapter:
    adapter = app.adapters["matrix"]
    assert isinstance(adapter, MatrixAdapter)
    return adapter


async def make_room(mod: Member, invite: list[str], name: str = "Débats") -> tuple[str, str]:
    """A room created by ``mod`` (its creator: room version 12), with an alias."""
    import nio

    local = f"debats-{secrets.token_hex(3)}"
    response = await mod.client.room_create(name=name, alias=local, invite=invite)
    assert isinstance(response, nio.RoomCreateResponse), response
    room_id = str(response.room_id)
    await mod.wait_in_room(room_id)
    return room_id, f"#{local}:{Synapse.server_name}"
