"""The persisted state: versioned, migrated forward, refused when newer than the code."""

from __future__ import annotations

import pytest

from isthmus.engine import SCHEMA_VERSION, StateVersionError, load_state
from tests.engine.harness import Run, load


def test_a_version_0_document_is_migrated() -> None:
    run = Run(load("parallel.bpmn")).start()
    raw = run.state.dump()
    old = {k: v for k, v in raw.items() if k != "act"} | {"v": 0}
    assert load_state(old).dump() == raw | {"act": {}}


def test_a_newer_document_is_refused() -> None:
    raw = Run(load("parallel.bpmn")).start().state.dump() | {"v": SCHEMA_VERSION + 1}
    with pytest.raises(StateVersionError):
        load_state(raw)


def test_state_is_compact() -> None:
    run = Run(load("parallel.bpmn")).start()
    import json

    assert len(json.dumps(run.state.dump())) < 300  # no copy of the model
