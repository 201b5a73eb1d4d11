"""Config validation: errors name the key path and the line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_config_is_valid() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.platforms.enabled() == ["console"]
    assert config.data_dir == (ROOT / "data").resolve()
    assert config.resolved_database_url().endswith("/data/debates.db")


def test_cron_error_names_key_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "language: fr\n"
        "debates:\n"
        "  - id: d1\n"
        "    title: T\n"
        "    pack: progressive-alliance-2018\n"
        "    schedule:\n"
        '      cron: "0 25 * * 1"\n',
    )
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "config.yaml:7 debates[0].schedule.cron: hour 25 out of range 0-23"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("languge: fr\n", ":1 languge: unknown key"),
        ("language: de\n", ":1 language:"),
        (
            "platforms:\n  discord:\n    token_env: abc.def-SECRET\n",
            ":3 platforms.discord.token_env: must be the NAME",
        ),
        ("timezone: Mars/Olympus\n", ":1 timezone: unknown time zone"),
        (
            "debates:\n  - id: d\n    title: T\n    pack: nope\n",
            ":4 debates[0].pack: unknown pack 'nope'",
        ),
        (
            "debates:\n  - id: d\n    title: T\n    pack: progressive-alliance-2018\n"
            "    questions: [no-such-question]\n",
            ":5 debates[0].questions[0]: pack 'progressive-alliance-2018' has no question",
        ),
        (
            "debates:\n  - id: d\n    title: T\n    pack: progressive-alliance-2018\n"
            "    round_duration: 2 days\n",
            ":5 debates[0].round_duration: invalid duration",
        ),
        ("debates: [\n", "invalid YAML"),
    ],
)
def test_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value)


def test_check_config_exit_codes_via_the_console_script(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(ROOT / "config.yaml")],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = write(tmp_path, "anonymity:\n  min_group_size: 0\n  extra: 1\n")
    res = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(bad)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert any(line.startswith("config.yaml:2 anonymity.min_group_size:") for line in lines)
    assert any(line.startswith("config.yaml:3 anonymity.extra: unknown key") for line in lines)


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(e) for e in caught.value.errors]


def test_a_misspelt_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, "platforms:\n  discrod: {enabled: true}\n")
    assert errors_of(path) == [
        "config.yaml:2 platforms.discrod: unknown key (did you mean 'discord'?)"
    ]
    path = write(
        tmp_path,
        "debates:\n  - id: d\n    title: T\n    pack: ecran-total\n    rounds_duration: 1d\n",
    )
    (error,) = errors_of(path)
    assert "did you mean 'round_duration'" in error and error.startswith("config.yaml:5")


def test_a_duplicate_debate_id_points_at_the_second_one(tmp_path: Path) -> None:
    debate = "  - id: same\n    title: T\n    pack: ecran-total\n"
    path = write(tmp_path, "language: fr\ndebates:\n" + debate + debate)
    assert errors_of(path) == [
        "config.yaml:6 debates[1].id: debate id 'same' is already used by debates[0] (line 3)"
    ]


def test_yaml_indentation_errors_say_what_to_do(tmp_path: Path) -> None:
    path = write(tmp_path, "debates:\n  - id: d\n    title: T\n   pack: ecran-total\n")
    (error,) = errors_of(path)
    assert error.startswith("config.yaml:4") and "indentation" in error and "<block" not in error
    path = write(tmp_path, "language: fr\n\ttimezone: UTC\n")
    (error,) = errors_of(path)
    assert "tab" in error and "spaces" in error


def test_packs_dir_adds_to_the_bundled_packs(tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    bundled = (ROOT / "debates" / "ecran-total.yaml").read_text(encoding="utf-8")
    (packs / "mine.yaml").write_text(
        bundled.replace("id: ecran-total", "id: mine", 1), encoding="utf-8"
    )
    path = write(
        tmp_path,
        "packs_dir: packs\n"
        "debates:\n"
        "  - {id: a, title: A, pack: mine}\n"
        "  - {id: b, title: B, pack: progressive-alliance-2018}\n",
    )
    config = load_config(path)
    assert {"mine", "progressive-alliance-2018", "ecran-total"} <= set(config.load_packs())
