"""The homeserver found from a server name (``/.well-known/matrix/client``), as clients do."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from conftest import DEBATE, Bots, Users, adapter_of, make_room
from matrix_homeserver import Synapse
from matrix_members import Member

from bot.app import PlatformStartError
from bot.config import MatrixConfig

pytestmark = pytest.mark.synapse


def test_homeserver_is_a_url_or_a_server_name() -> None:
    for value in ("https://matrix.example.org/", "example.org", "localhost:8008", "[::1]:8448"):
        assert MatrixConfig(homeserver=value).homeserver == value.rstrip("/")
    for value in ("ftp://example.org", "example org", "@bot:example.org"):
        with pytest.raises(ValueError, match="server name"):
            MatrixConfig(homeserver=value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def well_known() -> AsyncIterator[Callable[[Any], str]]:
    """A loopback web server answering /.well-known/matrix/client with what a test sets."""
    served: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        if "body" not in served:
            raise web.HTTPNotFound()
        return web.json_response(served["body"])

    app = web.Application()
    app.router.add_get("/.well-known/matrix/client", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    def serve(body: Any) -> str:
        if body is not None:
            served["body"] = body
        return f"127.0.0.1:{port}"

    try:
        yield serve
    finally:
        await runner.cleanup()


async def test_the_bot_finds_its_homeserver_from_the_server_name(
    users: Users,
    members: dict[str, Member],
    bots: Bots,
    synapse: Synapse,
    well_known: Callable[[Any], str],
) -> None:
    mod = members["mod"]
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot])
    server_name = well_known({"m.homeserver": {"base_url": synapse.url + "/"}})
    app = await bots.start(alias, homeserver=server_name)
    assert adapter_of(app).homeserver_url == synapse.url
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    await mod.wait_message(lambda seen: info.code in seen.body, room_id, bot)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (None, "does not answer as a Matrix homeserver"),  # no .well-known: the name itself
        ({"m.homeserver": {}}, "gives no m.homeserver.base_url"),
        ({"m.homeserver": {"base_url": "matrix.example.org"}}, "gives no m.homeserver.base_url"),
    ],
)
async def test_a_server_name_that_leads_nowhere_is_a_clear_start_failure(
    users: Users, bots: Bots, well_known: Callable[[Any], str], body: Any, says: str
) -> None:
    with pytest.raises(PlatformStartError, match=says) as caught:
        await bots.start("#nowhere:example.org", homeserver=well_known(body))
    assert caught.value.platform == "matrix"
