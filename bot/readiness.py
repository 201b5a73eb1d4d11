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
    from bot.platforms import REGISTRY

    env = os.environ if environ is None else environ
    used = {c.platform for d in config.debates for c in d.channels}
    problems: dict[str, list[str]] = {}
    for platform in REGISTRY:
        settings = config.platforms.get(platform.name)
        if settings is not None and settings.enabled:
            problems[platform.name] = platform.readiness(settings, used, env)
    return problems
