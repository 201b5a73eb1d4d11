"""``debate-bot run`` as a service: standard input on /dev/null, Discord enabled, console on.

Under systemd, ``nohup`` or Docker without ``-i`` standard input is ``/dev/null``; the bot must
keep serving Discord until it is asked to stop, and then exit 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import yaml
from config_support import base_config_data
from discord_support import TOKEN_ENV, debate
from fake_discord import GUILD_ID, MODERATOR_ROLE_ID, FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
SERVE_SECONDS = 30

# The bot process, pointed at the fake Discord the way the fixtures point the in-process one.
RUN = """
import sys
import discord.gateway, discord.http, yarl
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.cli import main
sys.exit(main(["run", "--config", sys.argv[3]]))
"""


async def test_run_with_stdin_on_dev_null_keeps_serving_discord(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    data = {
        **base_config_data(tmp_path / "data"),
        "platforms": {
            # The console stays on, as in the bundled config: its end of input must not end
            # the run while Discord is served.
            "console": {"enabled": True, "channel": "general"},
            "discord": {
                "enabled": True,
                "token_env": TOKEN_ENV,
                "guild_ids": [GUILD_ID],
                "moderator_role_ids": [MODERATOR_ROLE_ID],
            },
        },
        "debates": [debate()],
    }
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    fake.ready.clear()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN,
        fake.api_base,
        fake.gateway_url,
        str(config),
        stdin=asyncio.subprocess.DEVNULL,  # /dev/null, as under systemd
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, TOKEN_ENV: str(fake.token)},
    )
    try:
        await asyncio.wait_for(fake.ready.wait(), timeout=60)  # logged in, gateway ready
        await asyncio.sleep(SERVE_SECONDS)
        assert proc.returncode is None, "the bot stopped serving"
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
