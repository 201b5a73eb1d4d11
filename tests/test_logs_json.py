"""``log_format: json``: one JSON object per line, scrubbed exactly as the text format is."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from config_support import write_config_file

from bot.logs import setup_logging

ROOT = Path(__file__).resolve().parents[1]
IDENTIFIERS = (
    "@alice:example.org",
    "!AbCdEfGhIjKlMnOp:example.org",
    "$Zx9_8-7y6W5v4U3t2S1r0Q",
    "1234567890123456789",
    "syt_Ym90_abcdefghijklmnopqrst_0AbCdE",
    "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpYWVpYWVpYWVpYWVpYWVpYWVo",
)
MESSAGES = (
    "sync for @alice:example.org in !AbCdEfGhIjKlMnOp:example.org",
    'event $Zx9_8-7y6W5v4U3t2S1r0Q "quoted" interaction 1234567890123456789',
    "token syt_Ym90_abcdefghijklmnopqrst_0AbCdE /sync?access_token=xyz123&since=s1",
    "payload aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpYWVpYWVpYWVpYWVpYWVpYWVo",
    "round 12 of débat capitalisme-numerique opened\tat once",
)


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def emit(fmt: str) -> str:
    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer, fmt="json" if fmt == "json" else "text")
    log = logging.getLogger("bot.engine")
    for message in MESSAGES:
        log.info("%s", message)
    logging.getLogger("nio.responses").setLevel(logging.DEBUG)  # as a careless library might
    logging.getLogger("nio.responses").debug("payload of @bob:example.org: !position pour x")
    logging.getLogger("discord.client").info("logging in using static token")
    try:
        raise ValueError("refused for @carol:example.org in room !QwErTyUiOpAsDfGh:hs")
    except ValueError:
        log.exception("handling 1234567890123456789 failed")
    return buffer.getvalue()


def test_json_lines_carry_the_fields_and_nothing_of_a_member(root_logging: None) -> None:
    lines = emit("json").splitlines()
    records = [json.loads(line) for line in lines]  # each line is one whole object
    assert len(records) == len(MESSAGES) + 2  # the nio line is dropped, discord.client kept
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
        assert datetime.fromisoformat(record["time"]).utcoffset() is not None
    assert records[0]["level"] == "INFO" and records[0]["logger"] == "bot.engine"
    assert records[0]["message"] == "sync for @<user> in !<room>"
    assert records[4]["message"] == "round 12 of débat capitalisme-numerique opened\tat once"
    assert (records[5]["logger"], records[5]["level"]) == ("discord.client", "INFO")
    failure = records[-1]
    assert failure["level"] == "ERROR" and failure["message"] == "handling <id> failed"
    assert "Traceback" in failure["exception"] and "ValueError" in failure["exception"]
    text = "\n".join(lines)
    for identifier in (*IDENTIFIERS, "@bob", "@carol", "QwErTyUiOp", "xyz123", "payload of"):
        assert identifier not in text, identifier


def test_json_message_is_scrubbed_exactly_as_the_text_line(root_logging: None) -> None:
    text_lines = emit("text").splitlines()
    json_records = [json.loads(line) for line in emit("json").splitlines()]
    # The text format's lines, message part only (tracebacks span several text lines).
    text_messages = [
        line.split(": ", 1)[1]
        for line in text_lines
        if line[:4].isdigit() and (" bot.engine: " in line or " discord.client: " in line)
    ]
    assert text_messages == [record["message"] for record in json_records]
    trace = text_lines[text_lines.index(next(x for x in text_lines if "handling" in x)) + 1 :]
    assert json_records[-1]["exception"] == "\n".join(trace)


@pytest.mark.skipif(
    "log_format" not in Path(ROOT / "bot" / "cli.py").read_text(encoding="utf-8"),
    reason="bot/cli.py does not pass config.log_format to setup_logging yet",
)
def test_run_logs_json_when_configured(tmp_path: Path) -> None:
    config = write_config_file(tmp_path, log_level="DEBUG")
    config.write_text(config.read_text() + "log_format: json\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        input="@alice !debat ouvrir capitalisme-numerique\n@bob dm !position pour Mon texte.\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert records and all(record["logger"] for record in records)
    assert any(record["logger"].startswith("bot.") for record in records)
    assert "Mon texte" not in result.stderr
