"""Loading the gettext catalogs: ``.po`` compiled in memory with Babel, once per language."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Protocol

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from isthmus.i18n._negotiate import DEFAULT_LANGUAGE, normalise

DOMAIN = "isthmus"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


class Translator(Protocol):
    """What templates and edges use: the two calls of :class:`gettext.NullTranslations`.

    A missing or empty translation returns the msgid (the English text) unchanged.
    """

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Mark ``message`` for extraction without translating it now (``gettext_noop``).

    For texts defined at import time (navigation labels) and translated when rendered.
    """
    return message


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translator(language: str) -> Translator:
    """The translations of ``language`` (unknown languages get the default's).

    Fuzzy entries are left out, as ``msgfmt`` does: a guessed translation is worse than English.
    """
    resolved = normalise(language) or DEFAULT_LANGUAGE
    path = po_path(resolved)
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=resolved, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
