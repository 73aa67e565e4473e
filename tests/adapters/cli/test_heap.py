"""The long-running commands' garbage-collector settings."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from isthmus.adapters.cli.heap import YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_settling_freezes_what_exists_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    survivor = [object()]  # alive when the heap settles: frozen, outside every later collection
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert not any(found is survivor for found in gc.get_objects())
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    newcomer: list[object] = []
    assert any(found is newcomer for found in gc.get_objects())  # made later: collected as usual
