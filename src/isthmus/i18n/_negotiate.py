"""Which language a person gets: an explicit choice beats a stored preference beats the browser.

Order (most specific first): the language cookie (the 中文 / English toggle), the user's stored
preference, the ``Accept-Language`` header (RFC 9110 §12.5.4, quality values honoured), then the
installation default (``ISTHMUS_LANGUAGE``).
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "zh_CN"
SUPPORTED_LANGUAGES = ("zh_CN", "en")

# Chinese variants all read Simplified here: the product ships no zh_TW catalog yet.
_ALIASES = {"zh": "zh_CN", "zh_cn": "zh_CN", "zh_hans": "zh_CN", "zh_sg": "zh_CN", "en": "en"}


def normalise(tag: str | None) -> str | None:
    """A supported language for a tag such as ``zh-CN``, ``zh_Hans_CN``, ``en-GB``; else None."""
    if not tag:
        return None
    parts = tag.strip().replace("-", "_").lower().split("_")
    for size in (2, 1):
        candidate = "_".join(parts[:size])
        if candidate in _ALIASES:
            return _ALIASES[candidate]
    return None


def _accepted(header: str) -> list[str]:
    """Supported languages of an Accept-Language header, best first (stable for equal q)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        language = normalise(tag)
        if language and quality > 0:
            ranked.append((-quality, index, language))
    return [language for _, _, language in sorted(ranked)]


def negotiate(
    accept_language: str | None, cookie: str | None, user_pref: str | None, default: str = DEFAULT_LANGUAGE
) -> str:
    """The language to render in; always one of :data:`SUPPORTED_LANGUAGES`."""
    for choice in (normalise(cookie), normalise(user_pref)):
        if choice:
            return choice
    accepted = _accepted(accept_language or "")
    if accepted:
        return accepted[0]
    return normalise(default) or DEFAULT_LANGUAGE


def html_lang(language: str) -> str:
    """The BCP 47 tag for ``<html lang>``: ``zh-CN`` or ``en``."""
    return language.replace("_", "-")
