from __future__ import annotations

import isthmus.models as models


def test_public_api_is_curated_and_sorted() -> None:
    # isort-style, as ruff RUF022 keeps it: CONSTANTS, then Classes, then functions
    key = lambda n: (not n.isupper(), not n[0].isupper(), n)  # noqa: E731
    assert models.__all__ == sorted(models.__all__, key=key)
    for name in models.__all__:
        assert getattr(models, name) is not None
    assert not [
        n
        for n in dir(models)
        if not n.startswith("_") and n not in models.__all__ and n not in {"annotations"}
    ]
