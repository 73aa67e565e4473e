"""The language of a request, and the 中文 / English switch that stores the choice in a cookie."""

from __future__ import annotations

from fastapi import Request

from isthmus.i18n import SUPPORTED_LANGUAGES, negotiate
from isthmus.security import Principal

LANGUAGE_COOKIE = "isthmus_lang"
ONE_YEAR_S = 365 * 24 * 3600


def request_language(request: Request, principal: Principal | None = None) -> str:
    """Cookie, then the user's preference, then Accept-Language, then ``settings.language``."""
    default: str = request.app.state.container.settings.language
    return negotiate(
        request.headers.get("accept-language"),
        cookie=request.cookies.get(LANGUAGE_COOKIE),
        user_pref=principal.language if principal else None,
        default=default,
    )


def other_languages(current: str) -> list[str]:
    return [language for language in SUPPORTED_LANGUAGES if language != current]
