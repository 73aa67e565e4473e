"""The facade of ``isthmus.quality``: every name it promises is there."""

from __future__ import annotations

import isthmus.quality as quality


def test_all_names_are_importable() -> None:
    assert len(set(quality.__all__)) == len(quality.__all__)  # the order is ruff's RUF022 (isort style)
    assert all(hasattr(quality, name) for name in quality.__all__)
    expected = {"dedupe", "profile", "apply_rules", "parse_rules", "parse_plan", "golden_records"}
    assert expected <= set(quality.__all__)
