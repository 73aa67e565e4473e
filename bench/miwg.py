"""MIWG interchange measurement: import, export and round trip of every .bpmn under a folder.

    .venv/bin/python bench/miwg.py tests/data/bpmn-miwg            # the 21 reference models
    .venv/bin/python bench/miwg.py path/to/bpmn-miwg-test-suite    # every vendor export too

A file passes when ``parse_bpmn`` accepts it, ``to_xml()`` gives its bytes back, the tree re-serialises
to the same canonical document (``same_document``) and that parses to equal specs. Validation runs
too (it must never crash); its error count is reported, not judged — most MIWG models are descriptive.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from isthmus.errors import IsthmusError
from isthmus.models import errors_of, parse_bpmn, same_document, validate


def check(path: Path) -> tuple[str, int]:
    """("ok" | "round trip differs" | the import error, validation errors)."""
    data = path.read_bytes()
    try:
        model = parse_bpmn(data, source=path.name)
    except IsthmusError as exc:
        return f"import: {exc.message.split(': ', 1)[-1][:70]}", 0
    errors = len(errors_of(validate(model)))
    serialised = model.serialize()
    equal = model.to_xml() == data and same_document(serialised, data)
    equal = equal and parse_bpmn(serialised).processes == model.processes
    return ("ok" if equal else "round trip differs"), errors


def main(folder: str) -> int:
    files = sorted(Path(folder).rglob("*.bpmn"))
    started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    invalid = 0
    for path in files:
        outcome, errors = check(path)
        outcomes[outcome] += 1
        invalid += errors > 0
        if outcome != "ok":
            print(f"{path}: {outcome}")
    seconds = time.perf_counter() - started
    print(
        f"{len(files)} files, {outcomes['ok']} import and round-trip equal, {invalid} with validation errors, "
        f"{seconds:.2f} s"
    )
    for outcome, count in outcomes.most_common():
        if outcome != "ok":
            print(f"  {count} × {outcome}")
    return 0 if outcomes["ok"] == len(files) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bpmn-miwg"))
