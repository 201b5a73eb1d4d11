"""The bot's cross-signing identity, as another user's client sees it through ``/keys/query``.

A fresh account gets a master and a self-signing key; the bot's device carries the
self-signing key's signature, and the self-signing key the master's. A restart keeps the
identity and the device; a second ``data_dir`` with the key file (and its pickle key) kept
gets a new device, signed by the same identity. Keys the bot does not hold are left in place
unless it was told to reset them.
"""

from __future__ import annotations

import logging
import shutil
import stat
from typing import Any

import nio
import pytest
from conftest import TOKEN_ENV, Bots, Users, adapter_of
from matrix_homeserver import Synapse
from signedjson.key import decode_verify_key_base64
from signedjson.sign import verify_signed_json

from bot.adapters.matrix.crosssigning import KEY_FILE, CrossSigningKeys

pytestmark = pytest.mark.synapse

CHANNEL = "!unused:localhost"


async def query(synapse: Synapse, users: Users, who: str = "alice") -> dict[str, Any]:
    """``/keys/query`` for the bot's account, asked by another user."""
    client = nio.AsyncClient(synapse.url, users.ids[who])
    try:
        login = await client.login(users.passwords[who])
        assert isinstance(login, nio.LoginResponse), login
        response = await client.send(
            "POST",
            "/_matrix/client/v3/keys/query",
            nio.Api.to_json({"device_keys": {users.ids["bot"]: []}}),
            headers={"Authorization": f"Bearer {client.access_token}"},
        )
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer
    finally:
        await client.close()


def only_key(obj: dict[str, Any]) -> str:
    [public] = obj["keys"].values()
    return str(public)


def assert_signed(obj: dict[str, Any], user_id: str, public: str) -> None:
    """``obj`` carries a valid signature of ``user_id``'s key ``public``."""
    verify_key = decode_verify_key_base64("ed25519", public, public)
    verify_signed_json(obj, user_id, verify_key)  # raises if absent or wrong


def identity(answer: dict[str, Any], bot: str, device_id: str) -> str:
    """The bot's master key, after checking the chain master -> self-signing -> device."""
    master = answer["master_keys"][bot]
    signing = answer["self_signing_keys"][bot]
    assert master["usage"] == ["master"] and signing["usage"] == ["self_signing"]
    assert_signed(signing, bot, only_key(master))
    device = answer["device_keys"][bot][device_id]
    assert_signed(device, bot, only_key(signing))
    return only_key(master)


async def test_the_bot_cross_signs_itself_and_keeps_its_identity(
    synapse: Synapse, users: Users, bots: Bots
) -> None:
    bot = users.ids["bot"]
    app = await bots.start(CHANNEL)
    adapter = adapter_of(app)
    assert adapter.client is not None
    device = str(adapter.client.device_id)
    master = identity(await query(synapse, users), bot, device)
    key_file = adapter.store_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"seeds" not in key_file.read_bytes(), "the private keys are kept encrypted"

    # A restart: same device, same identity, nothing uploaded again.
    await bots.stop(app)
    app = await bots.start(CHANNEL)
    adapter = adapter_of(app)
    assert adapter.client is not None and adapter.client.device_id == device
    assert identity(await query(synapse, users), bot, device) == master
    await bots.stop(app)

    # A fresh data_dir that kept the key file and its pickle key: a new device, the same
    # identity, no reset.
    fresh = bots.tmp_path / "fresh" / "matrix"
    fresh.mkdir(parents=True)
    for name in (KEY_FILE, "pickle_key"):
        shutil.copy2(adapter.store_dir / name, fresh / name)
    app = await bots.start(CHANNEL, data="fresh")
    adapter = adapter_of(app)
    assert adapter.client is not None and adapter.client.device_id != device
    assert identity(await query(synapse, users), bot, str(adapter.client.device_id)) == master


async def upload_foreign_keys(synapse: Synapse, users: Users) -> str:
    """Cross-signing keys for the bot's account made elsewhere (another client of its own)."""
    bot = users.ids["bot"]
    client = nio.AsyncClient(synapse.url, bot)
    try:
        login = await client.login(users.passwords["bot"], device_name="elsewhere")
        assert isinstance(login, nio.LoginResponse), login
        keys = CrossSigningKeys.generate(bot)
        response = await client.send(
            "POST",
            "/_matrix/client/v3/keys/device_signing/upload",
            nio.Api.to_json(keys.upload_body()),
            headers={"Authorization": f"Bearer {client.access_token}"},
        )
        assert response.status == 200, await response.text()
        return keys.public("master")
    finally:
        await client.close()


async def test_keys_the_bot_does_not_hold_are_replaced_only_when_asked(
    synapse: Synapse, users: Users, bots: Bots, caplog: pytest.LogCaptureFixture
) -> None:
    bot = users.ids["bot"]
    foreign = await upload_foreign_keys(synapse, users)
    caplog.set_level(logging.INFO, logger="bot.adapters.matrix")

    app = await bots.start(CHANNEL)
    adapter = adapter_of(app)
    assert adapter.client is not None
    answer = await query(synapse, users)
    assert only_key(answer["master_keys"][bot]) == foreign, "replaced without being asked"
    device = answer["device_keys"][bot][str(adapter.client.device_id)]
    assert set(device["signatures"][bot]) == {f"ed25519:{adapter.client.device_id}"}
    refusal = [r.getMessage() for r in caplog.records if "--reset-cross-signing" in r.getMessage()]
    assert len(refusal) == 1 and r"does not hold (master key" in refusal[0]
    assert not (adapter.store_dir / KEY_FILE).exists()
    await bots.stop(app)

    # Told to reset: the bot's own keys replace them (the homeserver asks for the password).
    app = await bots.start(CHANNEL, adapter=lambda a: setattr(a.cross_signing, "reset", True))
    adapter = adapter_of(app)
    assert adapter.client is not None
    master = identity(await query(synapse, users), bot, str(adapter.client.device_id))
    assert master != foreign
    await bots.stop(app)

    # Once reset, the flag left in place changes nothing more.
    app = await bots.start(CHANNEL, adapter=lambda a: setattr(a.cross_signing, "reset", True))
    adapter = adapter_of(app)
    assert adapter.client is not None
    assert identity(await query(synapse, users), bot, str(adapter.client.device_id)) == master


async def test_a_reset_asked_with_a_token_only_says_what_to_do(
    synapse: Synapse,
    users: Users,
    bots: Bots,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = users.ids["bot"]
    foreign = await upload_foreign_keys(synapse, users)
    login = nio.AsyncClient(synapse.url, bot)
    response = await login.login(users.passwords["bot"], device_name="debate-bot")
    await login.close()
    assert isinstance(response, nio.LoginResponse)
    monkeypatch.setenv(TOKEN_ENV, response.access_token)
    caplog.set_level(logging.INFO, logger="bot.adapters.matrix")

    app = await bots.start(
        CHANNEL,
        access_token_env=TOKEN_ENV,
        password_env=None,
        adapter=lambda a: setattr(a.cross_signing, "reset", True),
    )
    assert adapter_of(app).client is not None
    answer = await query(synapse, users)
    assert only_key(answer["master_keys"][bot]) == foreign
    told = [r.getMessage() for r in caplog.records if "user-interactive auth" in r.getMessage()]
    assert len(told) == 1 and "password" in told[0], told
