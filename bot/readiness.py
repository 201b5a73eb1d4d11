"""Whether each enabled platform can start with this config and this environment.

``check-config`` runs these checks (``--offline`` skips them, for checking a file on a machine
that does not hold the secrets). They look only at what is knowable without connecting: the
environment variables that hold tokens, and whether the config gives the platform anything
to do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.config import Config


def platform_problems(
    config: Config, environ: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """Per enabled platform, what keeps it from starting (empty lists when ready)."""
    env = os.environ if environ is None else environ
    problems: dict[str, list[str]] = {}
    platforms = config.platforms
    used = {c.platform for d in config.debates for c in d.channels}
    if platforms.console.enabled:
        problems["console"] = []
    if platforms.discord.enabled:
        found: list[str] = []
        discord = platforms.discord
        if not env.get(discord.token_env, "").strip():
            found.append(
                f"the bot token is missing: set the environment variable {discord.token_env} "
                "(platforms.discord.token_env)"
            )
        if not discord.guild_ids and not discord.sync_commands_globally:
            found.append(
                "no server to register the /debat commands in: put your server's id in "
                "platforms.discord.guild_ids (or set sync_commands_globally: true)"
            )
        if "discord" not in used:
            found.append(
                "no debate posts to Discord: add {platform: discord, channel_id: …} to a "
                "debate's channels"
            )
        problems["discord"] = found
    if platforms.matrix.enabled:
        found = []
        matrix = platforms.matrix
        names = [n for n in (matrix.access_token_env, matrix.password_env) if n]
        if not any(env.get(name, "").strip() for name in names):
            wanted = " or ".join(names) or "platforms.matrix.access_token_env"
            found.append(f"no credentials: set {wanted} in the environment")
        if "matrix" not in used:
            found.append(
                "no debate posts to Matrix: add {platform: matrix, room_id: …} to a debate's "
                "channels"
            )
        problems["matrix"] = found
    return problems
