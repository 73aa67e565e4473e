"""Languages of the product: zh-CN and English, from gettext catalogs.

The ``.po`` files under ``locale/<lang>/LC_MESSAGES/isthmus.po`` are the only source; they are
compiled in memory with Babel when first used, so a committed binary ``.mo`` can never be stale.
Message ids are the English texts (``scripts/i18n`` extracts them from the templates and the
error templates of :mod:`isthmus.errors` subclasses).

Example:
    >>> from isthmus.i18n import negotiate, translator
    >>> negotiate("en-US,en;q=0.9", cookie=None, user_pref=None, default="zh_CN")
    'en'
    >>> translator("zh_CN").gettext("Process catalog")
    '流程目录'
"""

from isthmus.i18n._catalogs import DOMAIN, LOCALE_DIR, N_, Translator, po_path, translator
from isthmus.i18n._negotiate import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, html_lang, negotiate, normalise

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LOCALE_DIR",
    "N_",
    "SUPPORTED_LANGUAGES",
    "Translator",
    "html_lang",
    "negotiate",
    "normalise",
    "po_path",
    "translator",
]
