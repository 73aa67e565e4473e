"""The gettext catalogs: every text of the web UI has a zh_CN translation, and both catalogs load.

Template strings are found with Jinja's own Babel extractor (what ``scripts/i18n`` runs), so a new
``_("…")`` in a template without a zh_CN entry fails here, before a Chinese page shows English.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from isthmus.adapters.web._templates import TEMPLATES_DIR
from isthmus.i18n import po_path, translator

WEB_PACKAGE = TEMPLATES_DIR.parent


def _catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


def _template_msgids() -> Iterator[tuple[str, str]]:
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        with path.open("rb") as handle:
            for _lineno, _func, message, _comments in babel_extract(handle, ("_", "gettext"), [], {}):
                texts = message if isinstance(message, tuple) else (message,)
                for text in texts:
                    if text:
                        yield str(path.relative_to(TEMPLATES_DIR)), text


def _marked_msgids() -> Iterator[tuple[str, str]]:
    """``N_("…")`` texts of the web adapter (menu labels, flash messages, role names)."""
    for path in sorted(WEB_PACKAGE.glob("*.py")):
        with path.open("rb") as handle:
            for _lineno, _func, message, _comments in extract_python(handle, {"N_": None}, [], {}):
                yield path.name, str(message)


def test_templates_have_texts_to_translate() -> None:
    assert len(set(_template_msgids())) > 100


@pytest.mark.parametrize("source", ["templates", "marked"])
def test_every_web_text_has_a_chinese_translation(source: str) -> None:
    catalog = _catalog("zh_CN")
    found = _template_msgids() if source == "templates" else _marked_msgids()
    missing = sorted(
        f"{where}: {text!r}"
        for where, text in set(found)
        if (entry := catalog.get(text)) is None or not entry.string or entry.fuzzy
    )
    assert not missing, (
        "missing zh_CN translations (run scripts/i18n update and fill them in):\n" + "\n".join(missing)
    )


def test_translations_keep_their_placeholders() -> None:
    problems = [(message.id, [str(e) for e in errors]) for message, errors in _catalog("zh_CN").check()]
    assert not problems


def test_brace_placeholders_survive_translation() -> None:
    """Error templates use ``{name}`` placeholders (str.format), which Babel's check cannot see."""
    for message in _catalog("zh_CN"):
        if message.id and message.string and isinstance(message.id, str) and isinstance(message.string, str):
            for token in ("{id}", "{value!r}", "{name}", "{limit}", "{first}", "{minutes}"):
                assert (token in message.id) == (token in message.string), (message.id, token)


def test_the_translator_translates_and_falls_back_to_english() -> None:
    assert translator("zh_CN").gettext("Process catalog") == "流程目录"
    assert translator("en").gettext("Process catalog") == "Process catalog"
    assert translator("zh_CN").gettext("a text nobody translated") == "a text nobody translated"
    assert translator("xx").gettext("Process catalog") == "流程目录"  # unknown: the default language


def test_the_po_files_are_the_only_source() -> None:
    """No compiled .mo is committed (they compile in memory): nothing can drift from the .po."""
    assert not list(po_path("zh_CN").parents[2].rglob("*.mo"))
