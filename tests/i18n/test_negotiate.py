"""Choosing the language: explicit choice, stored preference, browser, installation default."""

from __future__ import annotations

import pytest

from isthmus.i18n import html_lang, negotiate, normalise


@pytest.mark.parametrize(
    ("accept", "cookie", "user_pref", "expected"),
    [
        (None, None, None, "zh_CN"),
        ("en-US,en;q=0.9", None, None, "en"),
        ("fr-FR,zh-TW;q=0.8,en;q=0.5", None, None, "zh_CN"),
        ("en;q=0.3,zh-CN;q=0.9", None, None, "zh_CN"),
        ("en;q=0, de", None, None, "zh_CN"),
        ("en-US", None, "zh_CN", "zh_CN"),
        ("en-US", "zh_CN", "en", "zh_CN"),
        ("zh-CN", "en", None, "en"),
        ("zh-CN", "klingon", None, "zh_CN"),
        ("en;q=abc", None, None, "zh_CN"),
    ],
)
def test_negotiate_prefers_cookie_then_user_then_browser(
    accept: str | None, cookie: str | None, user_pref: str | None, expected: str
) -> None:
    assert negotiate(accept, cookie=cookie, user_pref=user_pref, default="zh_CN") == expected


def test_the_installation_default_applies_when_nothing_else_says() -> None:
    assert negotiate(None, cookie=None, user_pref=None, default="en") == "en"
    assert negotiate("", cookie="", user_pref=None, default="nonsense") == "zh_CN"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("zh-CN", "zh_CN"), ("zh_Hans_CN", "zh_CN"), ("ZH", "zh_CN"), ("en-GB", "en"), ("de", None), ("", None)],
)
def test_normalise_maps_tags_to_supported_languages(tag: str, expected: str | None) -> None:
    assert normalise(tag) == expected


def test_html_lang_is_a_bcp47_tag() -> None:
    assert html_lang("zh_CN") == "zh-CN"
    assert html_lang("en") == "en"
