"""Rendering a stored summary: chat text and the moderator exports (md, csv, json, html)."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from typing import Any

from bot.events import Attachment
from bot.i18n import Messages
from bot.text import escape_markdown

EXPORT_FORMATS = ("md", "csv", "json", "html")
_MIME = {
    "md": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
    "html": "text/html",
}


def export_summary(summary: dict[str, Any], fmt: str) -> Attachment:
    """One export file for a summary."""
    code = summary["round"]["code"]
    if fmt == "md":
        data = render_markdown(summary).encode("utf-8")
    elif fmt == "csv":
        data = render_csv(summary).encode("utf-8")
    elif fmt == "json":
        data = json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    elif fmt == "html":
        data = render_html(summary).encode("utf-8")
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return Attachment(f"debat-{summary['round']['debate_id']}-{code}.{fmt}", data, _MIME[fmt])


def _stance_label(summary: dict[str, Any], stance: str | None, m: Messages) -> str:
    if stance is None:
        return "—"
    for row in summary.get("tally") or []:
        if row["stance"] == stance:
            return str(row["label"])
    return m.stance_label(stance)


def render_summary_text(summary: dict[str, Any]) -> str:
    """The summary as posted in chat (light Markdown, member text escaped)."""
    m = Messages(summary["language"])
    rnd = summary["round"]
    lines = [f"**{m('summary_title', code=rnd['code'], question=rnd['question'])}**", ""]
    lines.append(m("summary_participation", participants=summary["participants"]))
    if summary["tally"] is None:
        lines.append(
            m("summary_too_few", participants=summary["positions"], min=summary["min_group_size"])
        )
    else:
        for row in summary["tally"]:
            lines.append(
                m(
                    "summary_tally_line",
                    stance=row["label"],
                    count=row["count"],
                    share=row["share"],
                )
            )
    lines.append("")
    args = summary["arguments"]
    if not args:
        lines.append(m("summary_no_arguments"))
    else:
        lines.append(m("summary_arguments", count=len(args)))
        ranked = sorted(args, key=lambda a: (-(a["agree"] or 0), a["number"]))
        for arg in ranked:
            lines.append(
                m(
                    "summary_argument_line",
                    number=arg["number"],
                    stance=_stance_label(summary, arg["stance"], m),
                    text=escape_markdown(arg["text"].replace("\n", " ")),
                )
            )
            if arg["votes_published"]:
                lines.append(
                    m(
                        "summary_votes",
                        agree=arg["agree"],
                        disagree=arg["disagree"],
                        pass_=arg["pass"],
                    )
                )
            elif arg["votes"]:
                lines.append(m("summary_votes_hidden", min=summary["min_group_size"]))
    return "\n".join(lines)


def render_markdown(summary: dict[str, Any]) -> str:
    rnd = summary["round"]
    text = render_summary_text(summary)
    header = [
        f"# {escape_markdown(rnd['debate_title'])}",
        "",
        f"> {escape_markdown(rnd['context'])}" if rnd.get("context") else "",
        rnd.get("source", ""),
        "",
        f"{rnd['opens_at']} → {rnd['closes_at']}",
        "",
    ]
    return "\n".join(header) + text + "\n"


def render_csv(summary: dict[str, Any]) -> str:
    """One row per argument; no pseudonym or participant identifier of any kind."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "text", "stance", "votes", "agree", "disagree", "pass"])
    for arg in summary["arguments"]:
        writer.writerow(
            [
                arg["number"],
                arg["text"],
                arg["stance"] or "",
                arg["votes"],
                "" if arg["agree"] is None else arg["agree"],
                "" if arg["disagree"] is None else arg["disagree"],
                "" if arg["pass"] is None else arg["pass"],
            ]
        )
    return out.getvalue()


def render_html(summary: dict[str, Any], chart_png: bytes | None = None) -> str:
    """One self-contained page: readable offline, printable."""
    m = Messages(summary["language"])
    rnd = summary["round"]
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(summary["language"])}"><head><meta charset="utf-8">',
        f"<title>{e(m('summary_title', code=rnd['code'], question=rnd['question']))}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3em}"
        "blockquote{color:#444;border-left:3px solid #aaa;margin:0;padding-left:1em}"
        "@media print{body{margin:0}}</style></head><body>",
        f"<h1>{e(rnd['debate_title'])}</h1>",
        f'<h2 id="question">{e(rnd["question"])}</h2>',
    ]
    if rnd.get("context"):
        parts.append(f"<blockquote>{e(rnd['context'])}</blockquote>")
    if rnd.get("source"):
        parts.append(f"<p>{e(rnd['source'])}</p>")
    parts.append(f"<p>{e(m('summary_participation', participants=summary['participants']))}</p>")
    if summary["tally"] is None:
        too_few = m(
            "summary_too_few", participants=summary["positions"], min=summary["min_group_size"]
        )
        parts.append(f"<p>{e(too_few)}</p>")
    else:
        parts.append('<table id="tally"><tr><th></th><th>n</th><th>%</th></tr>')
        for row in summary["tally"]:
            parts.append(
                f"<tr><td>{e(row['label'])}</td><td>{row['count']}</td><td>{row['share']}</td></tr>"
            )
        parts.append("</table>")
    if chart_png:
        encoded = base64.b64encode(chart_png).decode("ascii")
        parts.append(f'<p><img id="chart" alt="chart" src="data:image/png;base64,{encoded}"></p>')
    parts.append(f"<h3>{e(m('summary_arguments', count=len(summary['arguments'])))}</h3>")
    parts.append(
        '<table id="arguments"><tr><th>n</th><th></th><th></th><th>+</th><th>−</th><th>0</th></tr>'
    )
    for arg in summary["arguments"]:
        cells = [
            str(arg["number"]),
            e(arg["text"]).replace("\n", "<br>"),
            e(_stance_label(summary, arg["stance"], m)),
            *("" if arg[k] is None else str(arg[k]) for k in ("agree", "disagree", "pass")),
        ]
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def export_rounds(summaries: list[dict[str, Any]], fmt: str) -> bytes:
    """Several rounds in one file (``debate-bot export --debate``)."""
    if len(summaries) == 1:
        return export_summary(summaries[0], fmt).data
    if fmt == "json":
        return json.dumps(
            {"rounds": summaries}, ensure_ascii=False, indent=2, sort_keys=True
        ).encode("utf-8")
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for index, summary in enumerate(summaries):
            rows = list(csv.reader(io.StringIO(render_csv(summary))))
            if index == 0:
                writer.writerow(["round", *rows[0]])
            for row in rows[1:]:
                writer.writerow([summary["round"]["code"], *row])
        return out.getvalue().encode("utf-8")
    if fmt == "html":
        pages = [render_html(s) for s in summaries]
        head, _, _ = pages[0].partition("<body>")
        bodies = [p.partition("<body>")[2].rpartition("</body>")[0] for p in pages]
        return (head + "<body>" + "\n<hr>\n".join(bodies) + "</body></html>").encode("utf-8")
    return "\n\n---\n\n".join(render_markdown(s) for s in summaries).encode("utf-8")
