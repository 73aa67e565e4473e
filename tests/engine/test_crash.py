"""A small run of ``bench/engine_crash.py``: a worker killed with SIGKILL at random points loses no
step and repeats no service-task effect (the full 2,000 instances × 100 kills is the bench)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "bench" / "engine_crash.py"


@pytest.mark.parametrize("service_tasks", ["inline", "jobs"])
def test_kill_9_at_random_points(tmp_path: Path, service_tasks: str) -> None:
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    args = ["--instances", "30", "--kills", "2", "--seed", "3", "--service-tasks", service_tasks]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problem(s)" in done.stdout
