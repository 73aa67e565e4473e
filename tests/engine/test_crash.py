"""A small run of ``bench/engine_crash.py``: a worker killed with SIGKILL at random points loses no
step and repeats no service-task effect (the full 2,000 instances × 100 kills is the bench)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "bench" / "engine_crash.py"


def test_kill_9_at_random_points(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--db", db, "--instances", "30", "--kills", "2", "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problem(s)" in done.stdout
