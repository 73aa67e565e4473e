"""Rendering pages: one Jinja2 environment, and the context every page gets.

Every text in a template goes through ``_()`` (gettext with ``%(name)s`` parameters), so the
extractor in ``scripts/i18n`` finds it and the i18n test can prove a zh_CN translation exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from isthmus import __version__
from isthmus.adapters.web._language import other_languages, request_language
from isthmus.adapters.web._nav import navigation
from isthmus.adapters.web._redirects import here
from isthmus.errors import IsthmusError
from isthmus.i18n import Translator, html_lang, translator
from isthmus.security import Principal, WebSession, is_allowed

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _gettext_for(translations: Translator) -> Callable[..., str]:
    def gettext(message: str, **params: Any) -> str:
        text = translations.gettext(message)
        return text % params if params else text

    return gettext


def error_text(translations: Translator, error: IsthmusError) -> str:
    """The error's own template, translated (its template is the msgid), without the location."""
    try:
        return translations.gettext(error.template).format(**error.params)
    except (KeyError, IndexError, ValueError):
        return error.template.format(**error.params) if error.params else error.template


def _static_url(path: str) -> str:
    # The version busts caches after an upgrade; the files themselves are immutable per release.
    return f"/static/{path}?v={__version__}"


def page_context(request: Request) -> dict[str, Any]:
    """What every template may use: language, menu, who is signed in and the CSRF token."""
    principal: Principal | None = getattr(request.state, "principal", None)
    session: WebSession | None = getattr(request.state, "session", None)
    language = request_language(request, principal)
    translations = translator(language)
    timezone = request.app.state.container.settings.timezone

    def localtime(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(timezone).strftime("%Y-%m-%d %H:%M:%S")

    def can(permission: str) -> bool:
        return principal is not None and is_allowed(principal.roles, permission)

    return {
        "request": request,
        "language": language,
        "html_lang": html_lang(language),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in other_languages(language)],
        "language_names": LANGUAGE_NAMES,
        "_": _gettext_for(translations),
        "error_text": lambda error: error_text(translations, error),
        "principal": principal,
        "csrf_token": session.csrf_token if session else "",
        "can": can,
        "nav": navigation(principal, request.url.path),
        "here": here(request),
        "localtime": localtime,
        "static": _static_url,
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    merged = page_context(request) | dict(context or {})
    html = _env.get_template(template).render(merged)
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def is_htmx(request: Request, target: str | None = None) -> bool:
    """An htmx request (optionally aimed at the element ``target``): answer with a fragment."""
    if request.headers.get("hx-request") != "true":
        return False
    return target is None or request.headers.get("hx-target") == target
