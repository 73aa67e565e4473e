from __future__ import annotations

import isthmus.decisions as decisions


def test_public_api_is_curated_and_sorted() -> None:
    # isort-style, as ruff RUF022 keeps it: CONSTANTS, then Classes, then functions
    key = lambda n: (not n.isupper(), not n[0].isupper(), n)  # noqa: E731
    assert decisions.__all__ == sorted(decisions.__all__, key=key)
    for name in decisions.__all__:
        assert getattr(decisions, name) is not None
    assert not [
        n
        for n in dir(decisions)
        if not n.startswith("_") and n not in decisions.__all__ and n not in {"annotations"}
    ]
