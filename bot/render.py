"""Turning the core's light Markdown into HTML (Matrix) or plain text (console)."""

from __future__ import annotations

import html
import re

_ESCAPED = re.compile(r"\\([\\*_`~|>#\[\]<])")
_BOLD = re.compile(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*")
_ITALIC = re.compile(r"(?<![\\*])\*(?!\*)(.+?)(?<!\\)\*")
_CODE = re.compile(r"(?<!\\)`([^`]+?)`")
_PLACEHOLDER = "\x00{}\x00"


def markdown_to_plain(text: str) -> str:
    """Drop emphasis markers and backslash escapes: what a terminal should show."""
    text = _BOLD.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    return _ESCAPED.sub(r"\1", text)


def markdown_to_html(text: str) -> str:
    """A safe HTML rendering: everything is escaped first, then the few markers are applied."""
    escaped_chars: list[str] = []

    def stash(match: re.Match[str]) -> str:
        escaped_chars.append(match.group(1))
        return _PLACEHOLDER.format(len(escaped_chars) - 1)

    text = _ESCAPED.sub(stash, text)
    lines = []
    quote: list[str] = []
    for line in text.split("\n"):
        if line.startswith("> "):
            quote.append(_inline(line[2:]))
            continue
        if quote:
            lines.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
            quote = []
        lines.append(_inline(line))
    if quote:
        lines.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
    out = "<br>".join(lines).replace("</blockquote><br>", "</blockquote>")
    return re.sub("\x00(\\d+)\x00", lambda m: html.escape(escaped_chars[int(m.group(1))]), out)


def _inline(line: str) -> str:
    line = html.escape(line, quote=False)
    line = _BOLD.sub(r"<strong>\1</strong>", line)
    line = _ITALIC.sub(r"<em>\1</em>", line)
    return _CODE.sub(r"<code>\1</code>", line)
