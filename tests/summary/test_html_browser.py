"""The HTML export in a real headless Chromium: it loads offline, renders and prints.

Needs Debian's ``chromium`` (``scripts/test.sh`` installs it). Without it the test is skipped,
except under CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from planted_round import TRICKY, planted_data

from bot.summary import build_summary
from bot.summary.charts import PALETTE
from bot.summary.export import render_html

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "test-artifacts" / "summary.png"


def chromium_path() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found is None:
        message = "headless chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return result


class DomReader(HTMLParser):
    """Elements by id, the title, and the text inside each table."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, tuple[str, dict[str, str | None]]] = {}
        self.tags: list[str] = []
        self.title = ""
        self.table_text: dict[str, list[str]] = {}
        self._in_title = False
        self._tables: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if found.get("id"):
            self.by_id[str(found["id"])] = (tag, found)
        if tag == "title":
            self._in_title = True
        if tag == "table":
            self._tables.append(str(found.get("id") or f"table{len(self.table_text)}"))
            self.table_text.setdefault(self._tables[-1], [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "table" and self._tables:
            self._tables.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._tables:
            self.table_text[self._tables[-1]].append(data)


def count_colour(png: Path, colour: str) -> int:
    import numpy as np
    from PIL import Image

    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
    return int(np.all(pixels == rgb, axis=-1).sum())


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    return build_summary(planted_data(tricky=True))


def test_html_export_renders_in_headless_chromium(summary: dict[str, Any], tmp_path: Path) -> None:
    binary = chromium_path()
    page = tmp_path / "summary.html"
    page.write_text(render_html(summary), encoding="utf-8")
    url = page.as_uri()

    dom = run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", url).stdout.decode()
    reader = DomReader()
    reader.feed(dom)
    assert (
        reader.title == "Synthèse du tour K7Q2 — « Faut-il réguler les plateformes numériques ? »"
    )
    assert reader.by_id["question"][0] == "h2"
    assert reader.by_id["tally"][0] == "table"
    tally = " ".join(reader.table_text["tally"])
    assert "Pour" in tally and "14" in tally and "48,3 %" in tally
    assert reader.by_id["arguments"][0] == "table"
    arguments = "".join(reader.table_text["arguments"])
    for arg in summary["arguments"]:
        assert arg["text"] in arguments
    assert TRICKY in arguments  # shown as text, not run or rendered as markup
    tag, attrs = reader.by_id["chart"]
    assert tag == "img" and str(attrs["src"]).startswith("data:image/png;base64,")
    for section in ("groups", "consensus", "divisive", "themes", "top-arguments"):
        assert section in reader.by_id, section
    assert "script" not in reader.tags

    shot = tmp_path / "summary.png"
    run_chromium(
        binary,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        url,
    )
    assert shot.exists() and shot.stat().st_size > 50_000
    print(f"\nscreenshot of the HTML export: {shot}")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)
    print(f"copied to {ARTIFACT}")
    # The inline chart was decoded and painted: its stance bars fill thousands of pixels.
    assert count_colour(shot, PALETTE[0]) > 5_000

    pdf = tmp_path / "summary.pdf"
    run_chromium(
        binary, tmp_path / "profile-pdf", f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url
    )
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
