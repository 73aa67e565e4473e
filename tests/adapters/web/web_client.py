"""Helpers of the web page tests: a TestClient import that tolerates Starlette's httpx2 notice,
signing in through the real login form, and the text a person would read on a page."""

from __future__ import annotations

import re
import warnings
from html import unescape

from starlette.exceptions import StarletteDeprecationWarning

from isthmus.demo import DEMO_USERS

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 package; plain httpx works and is what the lock file has.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PASSWORDS = {user.username: user.password for user in DEMO_USERS}
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')

__all__ = ["PASSWORDS", "TestClient", "csrf_of", "sign_in", "visible_text"]


def csrf_of(html: str) -> str:
    """The first CSRF token in a page's forms."""
    found = _CSRF_FIELD.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, next_url: str = "/") -> str:
    """Sign in through the login form; returns the session's CSRF token for later posts."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORDS[username],
            "csrf_token": csrf_of(form.text),
            "next": next_url,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


def visible_text(html: str) -> str:
    """Roughly what a person reads: tags, scripts and JSON blocks removed, spaces collapsed."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", unescape(html)).strip()
