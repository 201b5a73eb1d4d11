"""Cleaning member text on the way in and escaping it on the way out."""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides and isolates can make a message display differently from what it
# says (an argument that "reads" reversed); zero-width characters can smuggle invisible text.
_INVISIBLE = {
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f", "\u061c",  # marks
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width
}  # fmt: skip


def clean_member_text(text: str) -> str:
    """Normalise (NFC), drop control and bidi-override characters, collapse runs of spaces.

    Newlines are kept (at most two in a row) because arguments may have paragraphs.
    """
    text = unicodedata.normalize("NFC", text)
    out = []
    for ch in text:
        if ch in _INVISIBLE:
            continue
        if ch in "\n\t":
            out.append("\n" if ch == "\n" else " ")
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            continue
        out.append(ch)
    cleaned = "".join(out)
    cleaned = re.sub(r"[ \u00a0]{2,}", " ", cleaned)
    cleaned = re.sub(r" *\n *", "\n", cleaned)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    return cleaned.strip()


_MD_SPECIAL = re.compile(r"([\\*_`~|>#\[\]<])")


def escape_markdown(text: str) -> str:
    """Escape Markdown and neutralise mass mentions so member text shows as typed.

    ``@everyone``/``@here``/``@room`` get a zero-width joiner after the ``@`` so no client
    treats them as a ping even if an adapter forgets to disable mentions.
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"@(everyone|here|room)\b", "@\u2060\\1", escaped, flags=re.IGNORECASE)


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters without cutting words.

    Paragraph breaks are preferred, then line breaks, then spaces; a single word longer than
    ``limit`` is cut as a last resort.
    """
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
            chunks.append(rest[:cut])
            rest = rest[cut:]
        else:
            chunks.append(rest[:cut].rstrip())
            rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


# ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/SOS/PM/APC strings (ended by BEL or
# ST), and two-character escapes; their 8-bit C1 forms (CSI = U+009B, OSC = U+009D…) too.
_TERMINAL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[ -/]*[0-~]?",
    re.DOTALL,
)
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_terminal_controls(text: str) -> str:
    """``text`` without anything a terminal would act on: escape sequences, C0 and C1 controls.

    Newlines and tabs are kept. Used on everything the console prints, because members' text
    reaches the operator's terminal there.
    """
    return _TERMINAL_CONTROL.sub("", _TERMINAL_SEQUENCE.sub("", text))
