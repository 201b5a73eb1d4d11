"""Catalogues and text handling."""

from __future__ import annotations

import string

from bot.i18n import CATALOGUES
from bot.render import markdown_to_html, markdown_to_plain
from bot.text import clean_member_text, escape_markdown, split_text


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogues_match() -> None:
    fr, en = CATALOGUES["fr"], CATALOGUES["en"]
    assert fr.keys() == en.keys()
    for key in fr:
        assert fields(fr[key]) == fields(en[key]), key


def test_clean_member_text() -> None:
    assert clean_member_text("  a\u202eb\u200bc\x00d  ") == "abcd"
    assert clean_member_text("un\n\n\n\ndeux") == "un\n\ndeux"
    assert clean_member_text("\u2066\u2069") == ""


def test_escape_and_render() -> None:
    escaped = escape_markdown("**gras** @everyone <b>")
    assert "**" not in escaped.replace("\\*", "")
    assert "@everyone" not in escaped
    html = markdown_to_html("**Titre**\n> " + escape_markdown("<script>*x*</script>"))
    assert "<strong>Titre</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert markdown_to_plain("**a** \\*b\\*") == "a *b*"


def test_split_text_never_cuts_words() -> None:
    words = ["mot" + str(i) for i in range(1000)]
    text = " ".join(words)
    chunks = split_text(text, 2000)
    assert all(len(c) <= 2000 for c in chunks)
    assert " ".join(chunks).split() == words


def test_every_catalogue_has_both_languages_with_the_same_fields() -> None:
    from bot.i18n import SUMMARY_LABELS

    for catalogue in (CATALOGUES, SUMMARY_LABELS):
        fr, en = catalogue["fr"], catalogue["en"]
        assert fr.keys() == en.keys()
        for key in fr:
            assert fields(fr[key]) == fields(en[key]), key
