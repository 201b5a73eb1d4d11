"""``debate-bot demo`` at 80 participants: a summary that makes sense to a newcomer.

Each simulated argument is said from the stance its author took on the question actually
asked, no argument text repeats, and no sentence is both "most supported" (or broadly
agreed) and divisive.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_cli import cli, write_config

from bot.demo import OWN_WORDS


def test_demo_at_80_participants_makes_sense(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    demo_dir = tmp_path / "demo"
    res = cli(
        "demo",
        "--config",
        str(config),
        "--participants",
        "80",
        "--seconds",
        # The round closes on its clock: long enough for 80 members to answer and vote on a
        # loaded machine (the demo ends once the summary is out).
        "30",
        "--data-dir",
        str(demo_dir),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "Participants : 80." in res.stdout
    demo_config = write_config(tmp_path / "demo-config", data_dir=demo_dir)
    exported = cli(
        "export",
        "--config",
        str(demo_config),
        "--debate",
        "capitalisme-numerique",
        "--format",
        "json",
    )
    assert exported.returncode == 0, exported.stderr
    summary = json.loads(exported.stdout)
    texts = [a["text"] for a in summary["arguments"]]
    assert len(texts) >= 30
    assert len(set(texts)) == len(texts), "an argument text appears twice"

    # Every argument is said from its author's stance, by the stance's label.
    labels = {s["stance"]: s["label"] for s in summary["stances"]}
    own = {sentence for kind in OWN_WORDS["fr"].values() for sentence in kind[0]}
    for arg in summary["arguments"]:
        stance = arg["stance"]
        assert stance is not None  # the tally is published at 80 participants
        if stance in OWN_WORDS["fr"]:
            assert any(arg["text"].startswith(opening) for opening in own), arg
        else:
            assert f"« {labels[stance]} »" in arg["text"], arg
            others = [label for s, label in labels.items() if s != stance]
            assert not any(f"« {label} »" in arg["text"] for label in others), arg

    # No sentence is both supported (or agreed on) and divisive.
    by_number = {a["number"]: a["text"] for a in summary["arguments"]}
    analysis = summary["analysis"]
    supported = {by_number[n] for row in summary["top_arguments"] for n in row["arguments"]}
    agreed = {by_number[n] for n in analysis["consensus"]["agree"]}
    rejected = {by_number[n] for n in analysis["consensus"]["disagree"]}
    divisive = {by_number[n] for n in analysis["divisive"]}
    assert supported and divisive
    assert not supported & divisive
    assert not agreed & divisive
    assert not rejected & divisive
    # The chat says the same: a divisive sentence is not listed as most supported there.
    chat = res.stdout[res.stdout.index("Synthèse du tour") :]
    top = chat[chat.index("Arguments les plus soutenus") : chat.index("Ce qui divise")]
    assert not any(text in top for text in divisive)
