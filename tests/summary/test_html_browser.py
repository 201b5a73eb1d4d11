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

import pytest
from planted_round import TRICKY, planted_data

from bot.summary import build_summary
from bot.summary.charts import PALETTE
from bot.summary.export import render_html
from bot.summary.model import Summary

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
def summary() -> Summary:
    return build_summary(planted_data(tricky=True))


def test_html_export_renders_in_headless_chromium(summary: Summary, tmp_path: Path) -> None:
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


# The page is loaded in an iframe of the viewport's width (headless Chromium's window is at
# least 500 px wide): the wrapper, not the export, runs the measuring script (the export's
# Content-Security-Policy forbids scripts, and it holds none).
MEASURE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" src="summary.html" style="border:0;width:{width}px;height:3000px"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {{
  const win = document.getElementById("page").contentWindow;
  const doc = win.document;
  const img = doc.getElementById("chart");
  let right = 0, widest = "";
  for (const el of doc.body.querySelectorAll("*")) {{
    // inside a scrolling box, an element may be wider than the page: the box scrolls
    if (el.parentElement.closest(".scroll")) continue;
    const box = el.getBoundingClientRect();
    if (box.right > right) {{ right = box.right; widest = el.tagName + "." + el.className; }}
  }}
  const found = {{
    scrollWidth: doc.documentElement.scrollWidth,
    innerWidth: win.innerWidth,
    imgWidth: img.getBoundingClientRect().width,
    naturalWidth: img.naturalWidth,
    narrowChart: img.currentSrc !== img.src,
    right: right,
    widest: widest,
    scrolling: [...doc.querySelectorAll(".scroll")].map(
      (box) => [box.clientWidth, box.scrollWidth, box.querySelector("table").id]),
  }};
  const out = document.createElement("pre");
  out.id = "measure";
  out.textContent = JSON.stringify(found);
  document.body.append(out);
}});
</script></body></html>
"""


@pytest.mark.parametrize("width", [390, 1200])
def test_html_export_fits_a_phone_and_a_desktop(
    summary: Summary, tmp_path: Path, width: int
) -> None:
    import json
    import re

    binary = chromium_path()
    (tmp_path / "summary.html").write_text(render_html(summary), encoding="utf-8")
    wrapper = tmp_path / f"at-{width}.html"
    wrapper.write_text(MEASURE.format(width=width), encoding="utf-8")
    flags = ("--allow-file-access-from-files", "--virtual-time-budget=5000")
    window = f"--window-size={max(width, 500) + 20},2400"
    dom = run_chromium(
        binary, tmp_path / "profile-dom", *flags, window, "--dump-dom", wrapper.as_uri()
    ).stdout.decode()
    found = re.search(r'<pre id="measure">([^<]*)</pre>', dom)
    assert found, dom[-2000:]
    m = json.loads(found.group(1).replace("&quot;", '"'))
    assert m["innerWidth"] == width
    # Nothing overflows sideways: the page does not scroll, and only tables in their own
    # scrolling box may be wider than it.
    assert m["scrollWidth"] <= m["innerWidth"], m
    assert m["right"] <= width, m
    for client, _, table in m["scrolling"]:
        assert client <= width, (table, client)
    # The chart scales to the width, and is drawn for it: shown at most a quarter smaller
    # than drawn, so its text keeps a readable size (the narrow chart on a phone).
    assert 0 < m["imgWidth"] <= width
    assert m["imgWidth"] >= 0.75 * m["naturalWidth"], m
    assert m["narrowChart"] is (width < 640)

    shot = tmp_path / f"summary-{width}.png"
    run_chromium(
        binary, tmp_path / "profile-shot", *flags, window, f"--screenshot={shot}", wrapper.as_uri()
    )
    assert shot.exists() and shot.stat().st_size > 30_000
    print(f"\nscreenshot at {width} px: {shot}")
    assert count_colour(shot, PALETTE[0]) > 2_000  # the chart was painted
