"""A member on matrix-js-sdk's Rust crypto (Element's stack), in the strict device isolation mode.

The member bootstraps their own cross-signing, sets ``OnlySignedDevicesIsolationMode`` (MSC4153,
"exclude insecure devices"), opens an encrypted DM with the bot, gives a position and votes:
every answer of the bot decrypts and ``getEncryptionInfoForEvent`` shows no shield (no red
"unsigned device", no grey). The same member's client in the lenient mode shows none either.

Needs Node >= 22 and ``tests/matrix/js/node_modules`` (``scripts/test.sh`` installs both).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import DEBATE, Bots, Users, make_room
from matrix_homeserver import Synapse
from matrix_members import Member, has

pytestmark = pytest.mark.synapse

JS = Path(__file__).parent / "js"
BUNDLED_NODE = JS / ".node" / "node_modules" / ".bin" / "node"
TIMEOUT = 300.0


def node_binary() -> str | None:
    """A Node >= 22: the machine's, or the one scripts/test.sh installs beside the client."""
    for candidate in (os.environ.get("DEBATE_BOT_TEST_NODE"), shutil.which("node"), BUNDLED_NODE):
        if not candidate or not Path(candidate).exists():
            continue
        try:
            version = subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if int(version.lstrip("v").split(".")[0]) >= 22:
            return str(candidate)
    return None


async def test_a_strict_js_sdk_member_gets_verified_answers(
    synapse: Synapse, users: Users, members: dict[str, Member], bots: Bots
) -> None:
    node = node_binary()
    if node is None or not (JS / "node_modules" / "matrix-js-sdk").is_dir():
        pytest.skip("needs Node >= 22 and tests/matrix/js/node_modules: run scripts/test.sh")
    mod, bob = members["mod"], members["bob"]
    bot = users.ids["bot"]
    room_id, alias = await make_room(mod, [bot])
    app = await bots.start(alias)
    await mod.wait_joined(room_id, bot)
    info = await app.engine.open_round(DEBATE)
    await mod.wait_message(has(info.code), room_id, bot)
    # Someone else's argument, for the member to vote on.
    bob_dm = await bob.create_dm(bot, encrypted=True)
    await bob.wait_joined(bob_dm, bot)
    mark = len(bob.seen)
    await bob.send(bob_dm, f"!position {info.code} contre L'argument de Bob")
    await bob.wait_message(has("Position enregistrée"), bob_dm, bot, after=mark)

    steps = [
        {"send": f"!position {info.code} pour L'argument d'Alice", "expect": "Position"},
        {"send": f"!voter {info.code}", "expect": "L'argument de Bob"},
        {"send": "1", "expect": "voté sur tous"},
        {"send": f"!ma-position {info.code}", "expect": "L'argument d'Alice", "mode": "lenient"},
    ]
    for step in steps:
        step.setdefault("mode", "strict")
    request = {
        "baseUrl": synapse.url,
        "userId": users.ids["alice"],
        "password": users.passwords["alice"],
        "bot": bot,
        "steps": steps,
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / "member.mjs"),
        json.dumps(request),
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    elapsed = time.monotonic() - started
    assert process.returncode == 0, err.decode(errors="replace")[-4000:]
    results = json.loads(out.decode().strip().splitlines()[-1])["results"]
    assert [r["mode"] for r in results] == ["strict", "strict", "strict", "lenient"]
    for result in results:
        assert result["encrypted"], result
        # Sent by a device its owner cross-signed: no red shield, no "unsigned device".
        assert result["shieldColour"] == "NONE", result
        assert result["shieldReason"] is None, result
    assert "voté sur tous" in results[2]["body"]
    assert await app.engine.participation(info.id) == 2
    print(f"js-sdk member: {len(results)} exchanges in {elapsed:.1f}s")
