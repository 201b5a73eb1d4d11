"""The deployment files agree with the bot: exit codes, paths, the health endpoint, secrets.

scripts/test.sh lints the Dockerfile (hadolint) and verifies the unit (systemd-analyze); these
tests check what those tools cannot know about this bot.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from bot.cli import EXIT_ERROR, EXIT_NOTHING_TO_SERVE, EXIT_USAGE
from bot.config import ConsoleConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "debate-bot.service"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_unit_restarts_on_errors_only_and_is_hardened() -> None:
    unit = unit_settings()
    assert unit["Restart"] == ["on-failure"]
    # Restarting cannot fix an invalid config or a config with nothing to serve.
    assert unit["RestartPreventExitStatus"] == [f"{EXIT_USAGE} {EXIT_NOTHING_TO_SERVE}"]
    assert EXIT_ERROR not in {int(x) for x in unit["RestartPreventExitStatus"][0].split()}
    assert unit["EnvironmentFile"] == ["/etc/debate-bot/env"]
    assert unit["ExecStart"][0].endswith(" run --config /etc/debate-bot/config.yaml")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/debate-bot",
        "UMask": "0077",
        "StandardInput": "null",
        "KillSignal": "SIGTERM",
    }.items():
        assert unit[key] == [value], key


def test_example_service_config_is_valid_and_has_no_console() -> None:
    config = load_config(ROOT / "deploy" / "config.example.yaml")
    assert not config.platforms.of(ConsoleConfig).enabled
    assert config.log_format == "json"
    assert config.observability.address() == ("0.0.0.0", 9464)
    assert config.data_dir == Path("/data")
    assert config.database_url is not None and "@" in config.database_url
    assert ":" not in config.database_url.split("//", 1)[1].split("@", 1)[0]  # no password


def test_dockerfile_runs_unprivileged_with_data_volume_and_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    (user,) = [line for line in lines if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert 'VOLUME ["/data"]' in lines
    assert "http://127.0.0.1:9464/healthz" in text  # the example config's port
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in lines
    assert 'CMD ["debate-bot", "run", "--config", "/config/config.yaml"]' in lines


def test_compose_runs_the_bot_beside_postgresql_with_secrets_from_files() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    bot, postgres = compose["services"]["bot"], compose["services"]["postgres"]
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "bot-data:/data" in bot["volumes"]
    assert "./deploy/config.yaml:/config/config.yaml:ro" in bot["volumes"]
    assert bot["ports"] == ["127.0.0.1:9464:9464"]  # metrics for this host only
    for name in ("DISCORD_TOKEN", "DEBATE_BOT_SECRET", "PGPASSWORD"):
        secret = bot["environment"][f"{name}_FILE"].removeprefix("/run/secrets/")
        assert secret in bot["secrets"] and secret in compose["secrets"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "wal_keep_size=0" in postgres["command"]


def test_entrypoint_reads_the_listed_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("le-jeton\n", encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "DISCORD_TOKEN_FILE": str(tmp_path / "token"),
        "OTHER_FILE": "/left/alone",
    }
    script = str(ROOT / "deploy" / "docker-entrypoint.sh")
    shown = 'printf "%s|%s|%s" "$DISCORD_TOKEN" "${DISCORD_TOKEN_FILE:-}" "$OTHER_FILE"'
    result = subprocess.run(
        ["sh", script, "sh", "-c", shown], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout == "le-jeton||/left/alone"
    both = {**env, "DISCORD_TOKEN": "x"}
    refused = subprocess.run(["sh", script, "true"], env=both, capture_output=True, text=True)
    assert refused.returncode == 2 and "keep one" in refused.stderr
