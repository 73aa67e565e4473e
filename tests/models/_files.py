"""Where the BPMN fixtures live, for the tests of isthmus.models (and of the engine built on it)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
BPMN = DATA / "bpmn"
MIWG = DATA / "bpmn-miwg"
MIWG_FILES = sorted(MIWG.glob("*.bpmn"))


def fixture(name: str) -> bytes:
    """The bytes of ``tests/data/bpmn/<name>``."""
    return (BPMN / name).read_bytes()
