"""Crash benchmark for ``isthmus migrate``: kill -9 the real CLI process at random points, resume, and
check that the target equals the source exactly; then roll the finished run back and check that the
target is checksum-identical to its state before the run. On SQLite and PostgreSQL.

    .venv/bin/python bench/migration_crash.py                          # 1,000,000 rows, 20 kills, both
    .venv/bin/python bench/migration_crash.py --rows 100000            # while iterating
    .venv/bin/python bench/migration_crash.py --pg postgresql://u@h/db # an existing PostgreSQL
    .venv/bin/python bench/migration_crash.py --backends sqlite

The source is a deterministic CSV (seeded generator). The target table already holds 1% of the keys
with old values (the run updates them; their ``note`` column is not mapped and must survive) and 0.1%
keys the source never had (the run must not touch them). Kill points are 20 sorted random row
positions: each ``migrate run`` process is killed once its run's checkpoint passes the next position,
after a further random delay of up to ~one batch (so most kills land inside an open batch); a process
launched past its kill point is killed after a random 0–3 s (often while it still reads the source).

Checks, each printed: the final run exits 0; ``migrate verify --json`` (row counts + per-key-range
checksums) says ok; a full row-by-row compare of the target with the source mapped by this script
(independently of Isthmus) finds no difference; the journal holds exactly one entry per row written
(no row doubled); ``migrate rollback`` restores the target to the pre-run SHA-256 (computed here over
every column of every row, ordered by key). Exit 0 when every check passes.

``--clean-run`` also times one uninterrupted run after the rollback, beside the peer: the same rows
mapped in plain Python and bulk-inserted with ``executemany`` into an empty table (no journal,
checkpoints, lookups or checks), and prints the ratio — the price of resumability and exact rollback.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
CLI = [
    sys.executable,
    "-c",
    "import sys; from isthmus.adapters.cli.main import run; sys.exit(run(sys.argv[1:]))",
]
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
SUFFIXES = ["有限公司", "有限责任公司", "股份有限公司", "Co., Ltd."]
TABLE = "kna1"


def _name(i: int, rng: random.Random) -> str:
    return f"{rng.choice(CITIES)}{rng.choice('华通远大恒信金鼎')}{rng.choice('科技贸易实业物流')}{i}{rng.choice(SUFFIXES)}"


def write_source(path: Path, rows: int, seed: int) -> None:
    """A deterministic customer CSV: code, name (mixed Chinese/Latin), phone, city, updated_at."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("cust_code,name,phone,city,updated_at\n")
        for i in range(rows):
            name = _name(i, rng).replace(",", "")
            out.write(f"C{i:07d},{name},+86138{rng.randrange(10**8):08d},{rng.choice(CITIES)},"
                      f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00\n")  # fmt: skip


def expected_rows(path: Path, preexisting: dict[str, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What the target must hold after the run, computed without Isthmus: the mapping in plain Python."""
    out: dict[str, tuple[Any, ...]] = dict(preexisting)
    with path.open(encoding="utf-8") as source:
        next(source)
        for line in source:
            code, name, phone, city, _ = line.rstrip("\n").split(",")
            note = preexisting[code][4] if code in preexisting else None
            out[code] = (code, name.upper(), phone, city, note)
    return [out[k] for k in sorted(out)]


def create_target(engine: sa.Engine, rows: int, seed: int) -> dict[str, tuple[Any, ...]]:
    """The target table and its rows before the run (1% stale source keys, 0.1% target-only keys)."""
    rng = random.Random(seed + 1)
    meta = sa.MetaData()
    table = sa.Table(TABLE, meta, sa.Column("kunnr", sa.String(20), primary_key=True),
                     sa.Column("name1", sa.String(200)), sa.Column("telf1", sa.String(40)),
                     sa.Column("ort01", sa.String(40)), sa.Column("note", sa.String(40)))  # fmt: skip
    with engine.begin() as conn:
        for name in (TABLE, "isthmus_migration_touched", "isthmus_migration_runs"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    meta.create_all(engine)
    stale = {f"C{i:07d}": (f"C{i:07d}", f"旧名称{i}", None, "旧城", f"keep-{i}")
             for i in rng.sample(range(rows), max(1, rows // 100))}  # fmt: skip
    foreign = {f"Z{i:07d}": (f"Z{i:07d}", f"其他{i}", "1", None, None) for i in range(max(1, rows // 1000))}
    existing = stale | foreign
    with engine.begin() as conn:
        conn.execute(table.insert(), [dict(zip(("kunnr", "name1", "telf1", "ort01", "note"), r, strict=True))
                                      for r in existing.values()])  # fmt: skip
    return existing


def target_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = sa.text(f"SELECT kunnr, name1, telf1, ort01, note FROM {TABLE} ORDER BY kunnr")
        return [tuple(r) for r in conn.execute(query)]


def checksum(rows: list[tuple[Any, ...]]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\x1f".join("\x00" if v is None else str(v) for v in row).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def progress(engine: sa.Engine) -> int:
    """Rows the open run has committed (its checkpoint key, as a row number); -1 before it exists."""
    try:
        with engine.connect() as conn:
            mark = conn.execute(sa.text(
                "SELECT checkpoint FROM isthmus_migration_runs WHERE status = 'running'")).scalar()  # fmt: skip
    except sa.exc.DBAPIError:
        return -1
    return int(json.loads(mark)[1:]) + 1 if mark else 0


def plain_load(engine: sa.Engine, source: Path, batch: int) -> float:
    """The peer: the same rows, mapped in plain Python, bulk-inserted (executemany) into an empty copy of
    the table, one transaction per batch — no journal, no checkpoints, no lookups, no checks."""
    meta = sa.MetaData()
    table = sa.Table("kna1_plain", meta, sa.Column("kunnr", sa.String(20), primary_key=True),
                     sa.Column("name1", sa.String(200)), sa.Column("telf1", sa.String(40)),
                     sa.Column("ort01", sa.String(40)), sa.Column("note", sa.String(40)))  # fmt: skip
    meta.drop_all(engine)
    meta.create_all(engine)
    started = time.monotonic()
    with source.open(encoding="utf-8") as lines:
        next(lines)
        rows: list[dict[str, Any]] = []
        for line in lines:
            code, name, phone, city, _ = line.rstrip("\n").split(",")
            rows.append({"kunnr": code, "name1": name.upper(), "telf1": phone, "ort01": city})
            if len(rows) == batch:
                with engine.begin() as conn:
                    conn.execute(table.insert(), rows)
                rows = []
        if rows:
            with engine.begin() as conn:
                conn.execute(table.insert(), rows)
    took = time.monotonic() - started
    meta.drop_all(engine)
    return took


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False, cwd=ROOT)


@dataclass
class Outcome:
    backend: str
    rows: int
    kills: int = 0
    in_batch: int = 0
    before_first_batch: int = 0
    kill_rows: list[int] = field(default_factory=list)
    launch_seconds: list[float] = field(default_factory=list)
    crashed_seconds: float = 0.0
    final_seconds: float = 0.0
    clean_seconds: float = 0.0
    plain_seconds: float = 0.0
    final_exit: int = -1
    verify_ok: bool = False
    full_compare: str = ""
    journal_ok: bool = False
    rollback_ok: bool = False
    rollback_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.final_exit == 0 and self.verify_ok and self.full_compare == "equal" and self.journal_ok
                and self.rollback_ok and self.kills == len(self.kill_rows))  # fmt: skip


def crash_loop(plan: Path, engine: sa.Engine, rows: int, kills: int, batch: int, rng: random.Random,
               outcome: Outcome) -> None:  # fmt: skip
    points = sorted(rng.randrange(batch, rows - batch) for _ in range(kills))
    started = time.monotonic()
    for point in points:
        before = max(progress(engine), 0)
        launched = time.monotonic()
        process = subprocess.Popen([*CLI, "migrate", "run", str(plan)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        if point <= before:
            time.sleep(rng.uniform(0.0, 3.0))
        else:
            while process.poll() is None and progress(engine) < point:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.25))
        if process.poll() is not None:
            outcome.errors.append(f"run ended before its kill (exit {process.returncode}): "
                                  f"{(process.stderr.read() if process.stderr else '')[-300:]}")  # fmt: skip
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        after = max(progress(engine), 0)
        outcome.kills += 1
        outcome.kill_rows.append(after)
        outcome.launch_seconds.append(round(time.monotonic() - launched, 1))
        outcome.in_batch += after > before
        outcome.before_first_batch += after == before
        if process.stderr:
            process.stderr.close()
    outcome.crashed_seconds = time.monotonic() - started


def run_backend(backend: str, url: str, source: Path, work: Path, args: argparse.Namespace) -> Outcome:
    outcome = Outcome(backend, args.rows)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        existing = create_target(engine, args.rows, args.seed)
        before = checksum(target_rows(engine))
        plan = work / f"plan-{backend}.yaml"
        plan.write_text(f"source: {source}\ntarget: {url}#{TABLE}\nkey: kunnr\nbatch_size: {args.batch}\n"
                        "watermark: updated_at\nmapping:\n  kunnr: cust_code\n  name1: upper case(name)\n"
                        "  telf1: phone\n  ort01: city\n", encoding="utf-8")  # fmt: skip
        crash_loop(plan, engine, args.rows, args.kills, args.batch, random.Random(args.seed + 2), outcome)
        started = time.monotonic()
        final = cli("migrate", "run", str(plan), "--json")
        outcome.final_seconds = time.monotonic() - started
        outcome.final_exit = final.returncode
        if final.returncode:
            outcome.errors.append(final.stderr.strip()[-300:])
        checked = cli("migrate", "verify", str(plan), "--json")
        outcome.verify_ok = checked.returncode == 0 and json.loads(checked.stdout)["ok"] is True
        got, want = target_rows(engine), expected_rows(source, existing)
        outcome.full_compare = (
            "equal" if got == want else f"{sum(a != b for a, b in zip(got, want, strict=False))} rows differ"
        )
        if len(got) != len(want):
            outcome.full_compare = f"{len(got)} rows, expected {len(want)}"
        with engine.connect() as conn:
            touched, distinct = conn.execute(sa.text(
                "SELECT count(*), count(DISTINCT key) FROM isthmus_migration_touched")).one()  # fmt: skip
        outcome.journal_ok = touched == distinct == args.rows  # every source row written exactly once
        runs = json.loads(cli("migrate", "runs", str(plan), "--json").stdout)
        (done,) = [r["run_id"] for r in runs if r["status"] == "done"]
        started = time.monotonic()
        undone = cli("migrate", "rollback", done, "--plan", str(plan), "--json")
        outcome.rollback_seconds = time.monotonic() - started
        outcome.rollback_ok = undone.returncode == 0 and checksum(target_rows(engine)) == before
        if args.clean_run:
            started = time.monotonic()
            clean = cli("migrate", "run", str(plan), "--json")
            outcome.clean_seconds = time.monotonic() - started
            if clean.returncode:
                outcome.errors.append("clean run: " + clean.stderr.strip()[-300:])
            outcome.plain_seconds = plain_load(engine, source, args.batch)
    finally:
        engine.dispose()
    return outcome


def report(outcomes: list[Outcome]) -> None:
    def yes(flag: bool) -> str:
        return "yes" if flag else "NO"

    header = ("backend", "rows", "kills", "in a batch", "before 1st batch", "crash phase s", "resume s",
              "exit", "verify", "full compare", "journal 1×/row", "rollback = pre-run", "rollback s", "clean run s", "plain load s", "ratio")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for o in outcomes:
        cells = (o.backend, f"{o.rows:,}", str(o.kills), str(o.in_batch), str(o.before_first_batch),
                 f"{o.crashed_seconds:.0f}", f"{o.final_seconds:.0f}", str(o.final_exit), yes(o.verify_ok),
                 o.full_compare, yes(o.journal_ok), yes(o.rollback_ok), f"{o.rollback_seconds:.0f}",
                 f"{o.clean_seconds:.0f}" if o.clean_seconds else "-",
                 f"{o.plain_seconds:.0f}" if o.plain_seconds else "-",
                 f"{o.clean_seconds / o.plain_seconds:.1f}×" if o.plain_seconds else "-")  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    for o in outcomes:
        print(f"{o.backend}: committed rows at each kill: {o.kill_rows}")
        print(f"{o.backend}: seconds from launch to kill: {o.launch_seconds}")
        for error in o.errors:
            print(f"{o.backend}: ERROR {error}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument(
        "--pg", help="a PostgreSQL URL (default: a throwaway cluster of scripts/throwaway-postgres)"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--clean-run",
        action="store_true",
        help="also time one uninterrupted run beside a plain executemany load (the peer)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="isthmus-migration-crash-"))
    pg_dir: Path | None = None
    outcomes = []
    try:
        source = work / "customers.csv"
        write_source(source, args.rows, args.seed)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{work / 'erp.db'}"
            else:
                url = args.pg
                if url is None:
                    pg_dir = Path(
                        tempfile.mkdtemp(prefix="migration-crash-pg-")
                    )  # outside work: owned by postgres
                    started = subprocess.run([str(ROOT / "scripts/throwaway-postgres"), "start", str(pg_dir)],
                                             capture_output=True, text=True, check=True)  # fmt: skip
                    url = started.stdout.strip()
            outcomes.append(run_backend(backend, url, source, work, args))
            print(f"{backend}: done", file=sys.stderr)
    finally:
        if pg_dir is not None:
            subprocess.run([str(ROOT / "scripts/throwaway-postgres"), "stop", str(pg_dir)], check=False)
            shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    report(outcomes)
    return 0 if outcomes and all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
