"""``isthmus migrate``: a CSV into a SQLite table — plan, run, verify, rollback through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from isthmus.adapters.cli.main import run


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_run_verify_rollback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "crm.csv"
    source.write_bytes("客户编码,客户名称\nC1,华通科技\nC2,远大贸易\n".encode("gb18030"))
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kna1 (kunnr TEXT PRIMARY KEY, name1 TEXT)"))
    engine.dispose()
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"source: {source}\ntarget: {url}#kna1\nkey: kunnr\nmapping:\n  kunnr: 客户编码\n  name1: 客户名称\n",
                    encoding="utf-8")  # fmt: skip
    code, out, _ = _run(capsys, "migrate", "plan", str(plan), "--json")
    assert (code, json.loads(out)["inserted"]) == (0, 2)
    code, out, _ = _run(capsys, "migrate", "verify", str(plan), "--json")
    assert (code, json.loads(out)["ok"]) == (1, False)
    code, out, _ = _run(capsys, "migrate", "run", str(plan), "--json")
    run_id = json.loads(out)["run_id"]
    assert code == 0
    code, out, _ = _run(capsys, "migrate", "verify", str(plan), "--json")
    assert (code, json.loads(out)["ok"]) == (0, True)
    code, out, _ = _run(capsys, "migrate", "rollback", run_id, "--plan", str(plan), "--json")
    assert (code, json.loads(out)["undone"]) == (0, 2)
    code, _, err = _run(capsys, "migrate", "rollback", run_id, "--plan", str(plan))
    assert code == 2
    assert "already rolled back" in err


def test_a_mapping_to_a_missing_column_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "crm.csv"
    source.write_text("id,name\n1,a\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT)"))
    engine.dispose()
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"source: {source}\ntarget: {url}#t\nkey: id\nmapping:\n  id: id\n  name: nom\n", encoding="utf-8"
    )
    code, _, err = _run(capsys, "migrate", "run", str(plan))
    assert code == 2
    assert "plan.yaml, line 6, field 'mapping.name': the source has no column 'nom'" in err


def test_kill_9_mid_run_then_resume_loses_and_doubles_nothing(tmp_path: Path) -> None:
    import random
    import signal
    import subprocess
    import sys
    import time

    rows = 10_000
    source = tmp_path / "crm.csv"
    source.write_text("id,name\n" + "".join(f"K{i:06d},客户{i}\n" for i in range(rows)), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT)"))
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"source: {source}\ntarget: {url}#t\nkey: id\nbatch_size: 200\nmapping:\n  id: id\n  name: name\n",
                    encoding="utf-8")  # fmt: skip
    command = [sys.executable, "-c", "from isthmus.adapters.cli.main import run; import sys; sys.exit(run(sys.argv[1:]))",
               "migrate", "run", str(plan)]  # fmt: skip
    rng = random.Random(7)
    kills = 0

    def loaded() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one())

    for _ in range(2):
        before = loaded()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while loaded() == before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until this process commits its first batch, then kill at random
        time.sleep(rng.uniform(0.0, 0.2))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    with engine.connect() as conn:
        partial = conn.execute(sa.text("SELECT count(*) FROM t")).scalar()
    assert partial is not None
    assert 0 < partial < rows  # the kills landed mid-run
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0
    with engine.connect() as conn:
        count, distinct = conn.execute(sa.text("SELECT count(*), count(DISTINCT id) FROM t")).one()
        touched = conn.execute(sa.text("SELECT count(*) FROM isthmus_migration_touched")).scalar()
    engine.dispose()
    assert (count, distinct, touched) == (rows, rows, rows)
    assert run(["migrate", "verify", str(plan)]) == 0
    assert kills >= 1


def _setup(tmp_path: Path) -> tuple[Path, str, Path]:
    source = tmp_path / "crm.csv"
    source.write_text("id,name\n" + "".join(f"K{i:04d},客户{i}\n" for i in range(300)), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT)"))
        conn.execute(sa.text("CREATE TABLE nokey (code TEXT PRIMARY KEY, name TEXT)"))
    engine.dispose()
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"source: {source}\ntarget: {url}#t\nkey: id\nbatch_size: 50\nmapping:\n  id: id\n  name: name\n",
                    encoding="utf-8")  # fmt: skip
    return source, url, plan


def _count(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = int(conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one())
    engine.dispose()
    return found


def test_an_unreadable_encoding_exits_2_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, url, plan = _setup(tmp_path)
    source.write_bytes(b"id,name\nK1,\xff\xfe\xfa\xfb\n")
    for command in ("plan", "run", "verify"):
        code, _, err = _run(capsys, "migrate", command, str(plan))
        assert code == 2
        assert f"{source}: unreadable encoding: not UTF-8, UTF-16 or GB18030 (first bad byte at offset" in err
        assert len(err.strip().splitlines()) == 1
    assert _count(url) == 0


def test_a_target_without_the_key_column_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, url, plan = _setup(tmp_path)
    plan.write_text(plan.read_text(encoding="utf-8").replace("#t\n", "#nokey\n"), encoding="utf-8")
    code, _, err = _run(capsys, "migrate", "run", str(plan))
    assert code == 2
    assert "plan.yaml, line 3, field 'key': the target has no key column 'id'" in err
    assert _count(url) == 0


def test_a_schema_change_mid_migration_exits_2_and_writes_nothing_more(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from isthmus.adapters.tabular import migrate
    from isthmus.quality import parse_plan

    _, url, plan = _setup(tmp_path)

    class Crash(Exception):
        pass

    def crash(batch: int) -> None:
        if batch == 2:
            raise Crash

    with pytest.raises(Crash):
        migrate.run(parse_plan(plan.read_text(encoding="utf-8"), file=str(plan)), before_commit=crash)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE t ADD COLUMN land TEXT"))
    engine.dispose()
    code, _, err = _run(capsys, "migrate", "run", str(plan))
    assert code == 2
    assert "the target schema changed since run" in err
    assert _count(url) == 50
