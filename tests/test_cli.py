"""The debate-bot command line, run as a real process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from config_support import write_config_file

ROOT = Path(__file__).resolve().parents[1]


def cli(
    *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def write_config(
    tmp_path: Path,
    debate_extra: str = "",
    data_dir: Path | None = None,
    schedule: str = "{manual: true}",
) -> Path:
    return write_config_file(
        tmp_path, data_dir=data_dir, schedule=schedule, debate_extra=debate_extra
    )


def test_run_reads_console_lines_until_end_of_input(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    lines = "\n".join(
        [
            "@alice !debat ouvrir capitalisme-numerique",
            "@bob dm !aide",
            "@carol !debat fermer",
            "ceci n'est pas une commande",
        ]
    )
    res = cli("run", "--config", str(config), stdin=lines + "\n")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "[general] Débat « Le capitalisme numérique »" in out
    assert "[dm:alice] Tour" in out and "ouvert" in out
    assert "[dm:bob] Participer au débat" in out
    assert "[dm:carol] Cette commande est réservée aux modérateurs." in out
    assert "Format : @<utilisateur>" in out
    # Every post is one block: blocks are separated by a blank line and start with a channel.
    blocks = [b for b in out.strip().split("\n\n") if b.startswith("[")]
    assert len(blocks) >= 4

    rounds = cli("rounds", "--config", str(config), "--json")
    assert rounds.returncode == 0, rounds.stderr
    listed = json.loads(rounds.stdout)
    assert len(listed) == 1 and listed[0]["state"] == "open"
    assert listed[0]["question"]


def test_demo_runs_a_whole_round(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    demo_dir = tmp_path / "demo"
    res = cli(
        "demo",
        "--config",
        str(config),
        "--participants",
        "9",
        "--seconds",
        "3",
        "--data-dir",
        str(demo_dir),
    )
    assert res.returncode == 0, res.stderr
    assert "[general] Débat" in res.stdout
    assert "[general] Synthèse du tour" in res.stdout
    assert "Participants : 9." in res.stdout
    assert str(demo_dir) in res.stdout  # says where its files are

    # The demo's round lives in its own directory; the configured database is untouched.
    assert json.loads(cli("rounds", "--config", str(config), "--json").stdout) == []
    demo_config = write_config(tmp_path / "demo-config", data_dir=demo_dir)
    rounds = json.loads(cli("rounds", "--config", str(demo_config), "--json").stdout)
    assert rounds[-1]["state"] == "summarised" and rounds[-1]["participants"] >= 1
    # A manual demo round: nothing real is scheduled with the demo's short duration.
    assert [r["state"] for r in rounds] == ["summarised"]
    out = tmp_path / "export.csv"
    res = cli(
        "export",
        "--config",
        str(demo_config),
        "--round",
        str(rounds[-1]["id"]),
        "--format",
        "csv",
        "--output",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("number,text,stance")
    res = cli(
        "export",
        "--config",
        str(demo_config),
        "--debate",
        "capitalisme-numerique",
        "--format",
        "json",
    )
    assert json.loads(res.stdout)["round"]["debate_id"] == "capitalisme-numerique"
    res = cli("export", "--config", str(demo_config), "--debate", "nope")
    assert res.returncode == 1 and "no summarised round" in res.stderr

    # Ages are days or longer: "1m" is refused, never read as one minute.
    for age in ("1m", "1s", "12h", "0d"):
        res = cli("purge", "--config", str(demo_config), "--older-than", age, "--yes")
        assert res.returncode == 2 and "30d" in res.stderr, (age, res.stderr)
    res = cli("purge", "--config", str(demo_config), "--older-than", "1d", "--yes")
    assert res.returncode == 0 and res.stdout.startswith("deleted 0 round(s)")


def test_demo_by_default_leaves_the_configured_data_alone(tmp_path: Path) -> None:
    config = write_config(tmp_path, schedule="{cron: '0 18 * * 1'}")
    res = cli("demo", "--config", str(config), "--participants", "30", "--seconds", "4")
    assert res.returncode == 0, res.stderr
    assert "Synthèse du tour" in res.stdout
    assert not (tmp_path / "data" / "debates.db").exists()
    # Nothing to warn about in a normal run (no overrun scheduler tick, no retried write).
    assert "WARNING" not in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_packs_commands() -> None:
    listed = cli("packs", "list")
    assert listed.returncode == 0
    assert "progressive-alliance-2018" in listed.stdout
    shown = cli("packs", "show", "ecran-total")
    assert shown.returncode == 0 and "Source" in shown.stdout
    missing = cli("packs", "show", "nope")
    assert missing.returncode == 2 and "unknown pack" in missing.stderr


def test_purge(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    res = cli("purge", "--config", str(config), "--older-than", "30d")
    assert res.returncode == 0 and "would delete 0" in res.stdout
    bad = cli("purge", "--config", str(config), "--older-than", "soon")
    assert bad.returncode == 2


def test_run_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal

    config = write_config(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdin is not None
    proc.stdin.write("@alice !debat ouvrir capitalisme-numerique\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rounds = json.loads(cli("rounds", "--config", str(config), "--json").stdout)
        if rounds:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "ouvert" in out


POLIS = Path(os.environ.get("DEBATE_BOT_POLIS_DATA", ROOT.parent / "shared" / "polis-opendata"))


def test_analyze_a_polis_export() -> None:
    data = POLIS / "london.youth.policing"
    assert data.is_dir(), f"Polis data missing: {data}"
    # Statements 1 and 4-14 are the owner's demographic ("meta") questions: excluded.
    meta = ",".join(["1", *map(str, range(4, 15))])
    res = cli(
        "analyze",
        "--votes",
        str(data / "votes.csv"),
        "--comments",
        str(data / "comments.csv"),
        "--exclude",
        meta,
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["participants"] == 26
    assert len(report["groups"]) == 3  # as Polis reported
    with (data / "votes.csv").open(encoding="utf-8") as handle:
        voters = {row["voter-id"] for row in csv.DictReader(handle)}
    assert report["assignments"] and set(report["assignments"]) <= voters
    assert report["analysis_version"]

    md = cli("analyze", "--votes", str(data / "votes.csv"), "--format", "md", "--replay")
    assert md.returncode == 0 and md.stdout.startswith("#")

    bad = cli("analyze", "--votes", str(data / "comments.csv"))
    assert bad.returncode == 2 and "debate-bot analyze: error:" in bad.stderr


def test_run_with_only_the_console_and_no_input_says_what_to_enable(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with open(os.devnull) as devnull:
        res = subprocess.run(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            stdin=devnull,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert res.returncode == 3, res.stderr
    assert "platforms.discord" in res.stderr and "nothing to serve" in res.stderr


def test_sigterm_stops_run_while_the_console_input_is_idle(tmp_path: Path) -> None:
    import signal

    config = write_config(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while time.monotonic() < deadline:  # wait until it serves
            if "running: console" in proc.stderr.readline():
                break
        proc.send_signal(signal.SIGTERM)
        # stdin stays open and idle: the bot must not wait for a line that never comes.
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stderr):
            if stream is not None:
                stream.close()


async def test_console_end_of_input_leaves_the_other_platforms_serving(tmp_path: Path) -> None:
    import asyncio
    import io
    import signal

    from bot.adapters.console import ConsoleAdapter
    from bot.cli import cmd_run
    from bot.config import ConsoleConfig, load_config
    from bot.events import ChannelRef, RoundPost
    from bot.platforms import AdapterContext

    class Other:
        platform = "other"
        stopped_at: float | None = None

        async def start(self) -> None:
            return None

        async def stop(self) -> None:
            self.stopped_at = time.monotonic()

        async def publish(self, channel: ChannelRef, post: RoundPost) -> None:
            return None

    config = load_config(write_config(tmp_path))
    other = Other()

    def console(context: AdapterContext[ConsoleConfig]) -> ConsoleAdapter:
        return ConsoleAdapter(
            context.settings, context.commands, context.export_dir, io.StringIO()
        )

    loop = asyncio.get_running_loop()
    started = time.monotonic()
    loop.call_later(2.0, os.kill, os.getpid(), signal.SIGTERM)
    code = await cmd_run(
        config, adapters={"console": console, "other": lambda app: other}, stdin=io.StringIO("")
    )
    assert code == 0
    assert other.stopped_at is not None and other.stopped_at - started >= 1.9


def test_check_config_says_which_platform_is_not_ready(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text().replace(
        "platforms:\n",
        "platforms:\n  discord: {enabled: true, token_env: DEBATE_BOT_TEST_NO_TOKEN}\n",
    )
    config.write_text(text)
    res = cli("check-config", "--config", str(config))
    assert res.returncode == 4, res
    assert "console: ready" in res.stdout
    problems = [line for line in res.stderr.splitlines() if line.startswith("discord: not ready")]
    assert len(problems) == 3, res.stderr  # token, guild ids, no Discord channel
    assert "DEBATE_BOT_TEST_NO_TOKEN" in problems[0]
    assert cli("check-config", "--config", str(config), "--offline").returncode == 0


def test_run_with_a_missing_token_or_an_unreachable_database_is_one_line(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    base = config.read_text()
    config.write_text(
        base.replace(
            "platforms:\n",
            "platforms:\n  discord: {enabled: true, token_env: DEBATE_BOT_TEST_NO_TOKEN}\n",
        )
    )
    res = cli("run", "--config", str(config), stdin="")
    assert res.returncode == 4, res.stderr
    assert "DEBATE_BOT_TEST_NO_TOKEN" in res.stderr and "Traceback" not in res.stderr
    assert len([line for line in res.stderr.splitlines() if line.startswith("error:")]) == 1

    config.write_text(
        base.replace(
            "platforms:\n",
            "database_url: postgresql://nobody@127.0.0.1:1/nothing\nplatforms:\n",
        )
    )
    res = cli("run", "--config", str(config), stdin="")
    assert res.returncode == 5, res.stderr
    assert "database" in res.stderr and "Traceback" not in res.stderr


def test_without_config_the_cli_says_where_it_looked(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DEBATE_BOT_CONFIG", None)
    res = subprocess.run(
        [sys.executable, "-m", "bot", "rounds"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert res.returncode == 2 and "DEBATE_BOT_CONFIG" in res.stderr
    config = write_config(tmp_path / "elsewhere")
    res = subprocess.run(
        [sys.executable, "-m", "bot", "rounds"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**env, "DEBATE_BOT_CONFIG": str(config)},
    )
    assert res.returncode == 0 and "no rounds" in res.stdout


def test_a_closed_pipe_is_not_an_error() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "packs", "show", "progressive-alliance-2018"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err, err


def test_rounds_shows_the_configured_time_zone_and_marks_cut_questions(tmp_path: Path) -> None:
    # A question of 73 characters.
    config = write_config_file(
        tmp_path,
        questions="[capitalisme-numerique-1]",
        stances="[domination, contournement, gratuite, abstention]",
    )
    res = cli("run", "--config", str(config), stdin="@alice !debat ouvrir capitalisme-numerique\n")
    assert res.returncode == 0, res.stderr
    listed = cli("rounds", "--config", str(config))
    (line,) = listed.stdout.splitlines()
    assert "Europe/Paris" in line and "UTC" not in line
    (row,) = json.loads(cli("rounds", "--config", str(config), "--json").stdout)
    assert len(row["question"]) > 60
    assert line.endswith("…") and row["question"][:40] in line
