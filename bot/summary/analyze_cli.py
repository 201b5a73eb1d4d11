"""``debate-bot analyze``: opinion groups of a Polis-format export, as JSON, Markdown or HTML.

``--votes`` is a Polis ``votes.csv`` (the latest vote per participant and comment counts);
``--comments`` an optional ``comments.csv`` giving the comment texts and the comments that
were moderated out. ``--replay`` replays the votes update by update as Polis computed them
(see :class:`bot.summary.analysis.ReplayBatching`); otherwise one analysis runs on all votes.
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Collection
from pathlib import Path

from bot.summary import group_label
from bot.summary.analysis import (
    EVERY_POLL,
    AnalysisResult,
    ReplayBatching,
    RepStatement,
    Vote,
    analyze,
)
from bot.summary.analysis import replay as replay_votes
from bot.summary.polis_io import load_polis_comments, load_polis_votes

FORMATS = ("json", "md", "html")
# "coarse": at most a few dozen updates (fast); "polis": Polis's own one-second poll cadence.
CADENCES: dict[str, ReplayBatching | None] = {"coarse": None, "polis": EVERY_POLL}


def run(
    votes: Path,
    comments: Path | None,
    fmt: str,
    replay: bool,
    output: Path | None,
    seed: int = 0,
    cadence: str = "coarse",
    exclude: Collection[str] = (),
) -> int:
    """Run the analysis and write the report; 0 on success, 2 (with a message) on bad input."""
    if fmt not in FORMATS:
        return _fail(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    try:
        # A replay sees the vote stream as Polis did, changed votes included.
        vote_list = load_polis_votes(votes, keep_history=replay)
        texts: dict[str, str] = {}
        moderated: set[str] = set()
        if comments is not None:
            texts, moderated = load_polis_comments(comments)
    except FileNotFoundError as exc:
        return _fail(f"file not found: {exc.filename}")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read input: {exc}")
    except ValueError as exc:
        return _fail(str(exc))
    if not vote_list:
        return _fail(f"{votes.name}: no votes")
    if cadence not in CADENCES:
        return _fail(f"unknown replay cadence {cadence!r} (choose from {', '.join(CADENCES)})")
    # Statements Polis treats as "meta" (e.g. demographic questions) are not marked in the
    # export: the organiser names them, and they are excluded like moderated-out ones.
    moderated |= {s.strip() for s in exclude if s.strip()}
    result = _analyse(vote_list, moderated, seed, replay, CADENCES[cadence])
    if fmt == "json":
        text = render_json(result, texts if comments is not None else None)
    elif fmt == "md":
        text = render_markdown(result, texts)
    else:
        text = render_html(result, texts)
    try:
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc}")
    return 0


def _analyse(
    vote_list: list[Vote],
    moderated: set[str],
    seed: int,
    replay_mode: bool,
    batch: ReplayBatching | None = None,
) -> AnalysisResult:
    if replay_mode:
        return replay_votes(vote_list, moderated_out=moderated, seed=seed, batch=batch)
    return analyze(vote_list, moderated_out=moderated, seed=seed)


def _fail(message: str) -> int:
    print(f"debate-bot analyze: error: {message}", file=sys.stderr)
    return 2


# ----------------------------------------------------------------------------------------------
# Renderers


def render_json(result: AnalysisResult, texts: dict[str, str] | None) -> str:
    data = result.to_json()
    if texts is not None:
        data["statement_texts"] = dict(texts)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _text(texts: dict[str, str], sid: str) -> str:
    return " ".join(texts.get(sid, "").split()) or "(no text)"


def _rep_line(rep: RepStatement) -> str:
    leaning = "agrees" if rep.direction == "agree" else "disagrees"
    return (
        f"the group {leaning} more than the others: {_pct(rep.agree, rep.seen)} agree, "
        f"{_pct(rep.disagree, rep.seen)} disagree ({rep.seen} voted in the group)"
    )


def render_markdown(result: AnalysisResult, texts: dict[str, str]) -> str:
    lines = [
        "# Opinion groups",
        "",
        f"- Method: {result.method} ({result.updates} update(s)), "
        f"analysis {result.analysis_version}, seed {result.seed}",
        f"- Participants: {result.participants} ({result.participants_clustered} clustered)",
        f"- Statements: {result.statements}, votes: {result.votes}",
        f"- Groups: {len(result.groups)}",
        "",
    ]
    for index, group in enumerate(result.groups):
        lines += [f"## Group {group_label(index)} — {group.size} participant(s)", ""]
        if not group.representative:
            lines += ["No representative statement.", ""]
        for rep in group.representative:
            lines.append(f"- **#{rep.statement}** {_text(texts, rep.statement)}")
            lines.append(f"  - {_rep_line(rep)}")
        lines.append("")
    lines += ["## Consensus", ""]
    for direction in ("agree", "disagree"):
        ids = result.consensus.get(direction, [])
        lines.append(f"### Broadly {direction}d" if ids else f"### Broadly {direction}d: none")
        for sid in ids:
            score = result.group_aware_consensus.get(sid)
            extra = f" (group-aware consensus {score:.2f})" if score is not None else ""
            lines.append(f"- **#{sid}** {_text(texts, sid)}{extra}")
        lines.append("")
    lines += ["## Divisive statements", ""]
    if not result.divisive:
        lines.append("None.")
    for sid in result.divisive:
        lines.append(
            f"- **#{sid}** {_text(texts, sid)} "
            f"(variance of group agree rates {result.divisive_scores.get(sid, 0.0):.3f})"
        )
    lines.append("")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1d2330;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d8dde6}
.meta{color:#5a6475}.group{border-left:4px solid #2f5d9e;padding-left:1rem;margin:1.5rem 0}
.rep{margin:.4rem 0}.tag{display:inline-block;font-size:.8rem;padding:0 .4rem;border-radius:.3rem;
color:#fff}.agree{background:#3a8f5c}.disagree{background:#b3261e}
.bar{display:inline-block;height:.6rem;background:#3a8f5c;vertical-align:middle}
.barbg{display:inline-block;width:8rem;height:.6rem;background:#e4e7ee;vertical-align:middle}
.small{font-size:.85rem;color:#5a6475}
"""


def render_html(result: AnalysisResult, texts: dict[str, str]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Opinion groups</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Opinion groups</h1>",
        f'<p class="meta">{esc(result.method)} ({result.updates} update(s)) · analysis '
        f"{esc(result.analysis_version)} · seed {result.seed}<br>"
        f"{result.participants} participants ({result.participants_clustered} clustered) · "
        f"{result.statements} statements · {result.votes} votes · "
        f"{len(result.groups)} group(s)</p>",
    ]
    for index, group in enumerate(result.groups):
        parts.append(
            f'<div class="group"><h2>Group {group_label(index)} '
            f'<span class="small">{group.size} participant(s)</span></h2>'
        )
        if not group.representative:
            parts.append("<p>No representative statement.</p>")
        for rep in group.representative:
            share = 100 * rep.agree / rep.seen if rep.seen else 0.0
            parts.append(
                f'<p class="rep"><span class="tag {esc(rep.direction)}">{esc(rep.direction)}'
                f"</span> <b>#{esc(rep.statement)}</b> {esc(_text(texts, rep.statement))}<br>"
                f'<span class="barbg"><span class="bar" style="width:{share:.0f}%"></span>'
                f'</span> <span class="small">{esc(_rep_line(rep))}</span></p>'
            )
        parts.append("</div>")
    parts.append("<h2>Consensus</h2>")
    for direction in ("agree", "disagree"):
        ids = result.consensus.get(direction, [])
        parts.append(f"<h3>Broadly {direction}d</h3>")
        if not ids:
            parts.append("<p>None.</p>")
            continue
        parts.append("<ul>")
        for sid in ids:
            score = result.group_aware_consensus.get(sid)
            extra = f' <span class="small">({score:.2f})</span>' if score is not None else ""
            parts.append(f"<li><b>#{esc(sid)}</b> {esc(_text(texts, sid))}{extra}</li>")
        parts.append("</ul>")
    parts.append("<h2>Divisive statements</h2>")
    if not result.divisive:
        parts.append("<p>None.</p>")
    else:
        parts.append("<ul>")
        for sid in result.divisive:
            parts.append(
                f"<li><b>#{esc(sid)}</b> {esc(_text(texts, sid))} "
                f'<span class="small">(variance {result.divisive_scores.get(sid, 0.0):.3f})'
                "</span></li>"
            )
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
