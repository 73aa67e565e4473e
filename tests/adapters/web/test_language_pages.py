"""No English leaks into Chinese pages, and no Chinese UI text into English ones."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from isthmus.demo import DEMO_USERS
from isthmus.i18n import po_path
from tests.adapters.web.web_client import TestClient, sign_in, visible_text

PAGES = ("/", "/catalog", "/catalog/new", "/catalog/SAL-ORD-001/edit", "/audit", "/users", "/jobs")


def _ui_texts() -> list[tuple[str, str]]:
    """(English, Chinese) of the multi-word UI texts: single words could occur in data."""
    with po_path("zh_CN").open("rb") as handle:
        catalog = read_po(handle)
    return [
        (str(m.id), str(m.string))
        for m in catalog
        if isinstance(m.id, str) and " " in m.id and "%" not in m.id and "{" not in m.id and m.string
    ]


@pytest.mark.usefixtures("demo_processes")
def test_chinese_pages_show_no_english_ui_text(client: TestClient) -> None:
    sign_in(client, "admin")
    texts = _ui_texts()
    for path in PAGES:
        shown = visible_text(client.get(path).text)
        leaked = [english for english, _ in texts if english in shown]
        assert not leaked, f"{path}: {leaked}"


def test_english_pages_show_no_chinese_ui_text(client: TestClient) -> None:
    """Without the demo processes: their Chinese content is data, not UI text."""
    sign_in(client, "admin")
    client.get("/language/en")
    # The guide's headers are quoted in an English hint; the demo users' names are data.
    quoted = " ".join(english for english, _ in _ui_texts()) + " ".join(u.display_name for u in DEMO_USERS)
    chinese = [zh for _, zh in _ui_texts() if len(zh) >= 4 and zh not in quoted]
    for path in ("/", "/catalog", "/catalog/new", "/audit", "/jobs"):
        shown = visible_text(client.get(path).text)
        leaked = [text for text in chinese if text in shown]
        assert not leaked, f"{path}: {leaked}"
