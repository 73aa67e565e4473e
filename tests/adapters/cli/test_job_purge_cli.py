"""``isthmus job purge``: a dry run, a purge, and a bad --older-than (exit 2, one line naming it)."""

from __future__ import annotations

import json

from tests.adapters.cli.test_cli import Invoke, cli  # noqa: F401  (the fixture)


def test_job_purge_dry_run_purge_and_a_bad_duration(cli: Invoke) -> None:  # noqa: F811
    code, out, _ = cli("job", "purge", "--dry-run")
    assert (code, out.strip()) == (
        0,
        "would purge 0 finished job(s), 0 delivered message(s), 0 orphaned chunk file(s)",
    )
    code, out, _ = cli("job", "purge", "--older-than", "1d12h", "--json")
    assert code == 0
    assert json.loads(out) | {"jobs_before": None, "messages_before": None} == {
        "jobs": 0,
        "messages": 0,
        "jobs_before": None,
        "messages_before": None,
        "dry_run": False,
        "chunk_files": 0,
    }
    code, out, err = cli("job", "purge", "--older-than", "7x")
    assert code == 2
    assert "--older-than" in err + out
    assert len((err + out).strip().splitlines()) == 1
