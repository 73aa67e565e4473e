"""The facade of ``isthmus.quality``: every name it promises is there."""

from __future__ import annotations

import isthmus.quality as quality


def test_all_names_are_importable() -> None:
    assert quality.__all__ == sorted(
        quality.__all__, key=lambda n: (not n.isupper() and not n[0].isupper(), n)
    )
    assert all(hasattr(quality, name) for name in quality.__all__)
    assert {"dedupe", "profile", "apply_rules", "parse_rules", "parse_plan", "golden_records"} <= set(
        quality.__all__
    )
