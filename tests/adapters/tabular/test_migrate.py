"""Migration on SQLite and PostgreSQL: crash and resume, incremental sync, verification, exact rollback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from isthmus.adapters.storage import normalise_url
from isthmus.adapters.tabular import migrate
from isthmus.errors import Conflict, InvalidInput
from isthmus.quality import MigrationPlan, parse_plan

ROWS = 1000


class Crash(Exception):
    pass


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(normalise_url(db_url))
    meta = sa.MetaData()
    src = sa.Table("crm_customers", meta, sa.Column("cust_code", sa.String(20), primary_key=True),
                   sa.Column("name", sa.String(100)), sa.Column("phone", sa.String(30)),
                   sa.Column("updated_at", sa.String(30)))  # fmt: skip
    dst = sa.Table("erp_kunden", meta, sa.Column("kunnr", sa.String(20), primary_key=True),
                   sa.Column("name1", sa.String(100)), sa.Column("telf1", sa.String(30)),
                   sa.Column("note", sa.String(30)))  # fmt: skip
    sa.Table("no_key", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name1", sa.String(10)))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(src.insert(), [{"cust_code": f"C{i:05d}", "name": f"客户{i}有限公司", "phone": f"1380000{i:04d}",
                                     "updated_at": "2024-06-01T00:00:00"} for i in range(ROWS)])  # fmt: skip
        # The target already holds two customers: one the run will update, one it must not touch.
        conn.execute(dst.insert(), [{"kunnr": "C00007", "name1": "旧名称", "telf1": None, "note": "keep"},
                                    {"kunnr": "Z99999", "name1": "其他", "telf1": "1", "note": None}])  # fmt: skip
    yield engine
    engine.dispose()


def _plan(db_url: str, **changes: str) -> MigrationPlan:
    mapping = {"kunnr": "cust_code", "name1": "upper case(name)", "telf1": "phone", **changes}
    lines = "\n".join(f"  {k}: '{v}'" for k, v in mapping.items())
    text = (f"source: {db_url}#crm_customers\ntarget: {db_url}#erp_kunden\nkey: kunnr\nbatch_size: 64\n"
            f"watermark: updated_at\nmapping:\n{lines}\n")  # fmt: skip
    return parse_plan(text, file="plan.yaml")


def _target(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(sa.text("SELECT kunnr, name1, telf1, note FROM erp_kunden ORDER BY kunnr"))
        ]


def test_dry_run_counts_and_samples(db_url: str, engine: sa.Engine) -> None:
    report = migrate.dry_run(_plan(db_url))
    assert (report.inserted, report.updated, report.unchanged) == (ROWS - 1, 1, 0)
    assert report.samples[0] == {
        "action": "insert",
        "row": {"kunnr": "C00000", "name1": "客户0有限公司", "telf1": "13800000000"},
    }
    assert len(_target(engine)) == 2  # nothing written


def test_crash_resume_verify_and_exact_rollback(db_url: str, engine: sa.Engine) -> None:
    plan = _plan(db_url)
    before = migrate.target_checksum(plan)

    def crash(batch: int) -> None:
        if batch == 4:
            raise Crash

    with pytest.raises(Crash):
        migrate.run(plan, before_commit=crash)
    assert len(_target(engine)) == 1 + 3 * 64  # three batches committed (C00007 updated), the fourth undone
    assert migrate.verify(plan)["ok"] is False
    resumed = migrate.run(plan)
    assert resumed.resumed_from == '"C00191"'
    assert (resumed.inserted, resumed.batches) == (ROWS - 1 - 3 * 64 + 1, 13)  # C00007 was updated earlier
    check = migrate.verify(plan)
    assert (check["ok"], check["source_rows"], check["target_rows"]) == (True, ROWS, ROWS)
    rows = _target(engine)
    assert ("C00007", "客户7有限公司", "13800000007", "keep") in rows
    assert ("Z99999", "其他", "1", None) in rows
    (done,) = [r for r in migrate.runs(plan) if r["status"] == "done"]
    assert (done["inserted"], done["updated"]) == (ROWS - 1, 1)
    undone = migrate.rollback(plan, done["run_id"])
    assert undone["undone"] == ROWS
    assert migrate.target_checksum(plan) == before
    with pytest.raises(Conflict):
        migrate.rollback(plan, done["run_id"])


def test_incremental_sync_by_watermark(db_url: str, engine: sa.Engine) -> None:
    plan = _plan(db_url)
    migrate.run(plan)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE crm_customers SET phone = '139', updated_at = '2024-07-01T00:00:00' WHERE cust_code = 'C00003'"
            )
        )
        conn.execute(
            sa.text("INSERT INTO crm_customers VALUES ('C99999', '新客户', '137', '2024-07-02T00:00:00')")
        )
    report = migrate.run(plan, incremental=True)
    assert (report.inserted, report.updated) == (1, 1)
    assert migrate.verify(plan)["ok"] is True
    again = migrate.run(plan, incremental=True)
    assert (again.inserted, again.updated) == (0, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"telf1": "mobile"}, "plan.yaml, line 9, field 'mapping.telf1': the source has no column 'mobile'"),
        ({"fax": "phone"}, "field 'mapping.fax': the target has no column 'fax'"),
        ({"telf1": "phone +"}, "field 'mapping.telf1': FEEL does not parse"),
    ],
)
def test_bad_mappings_stop_before_writing(
    db_url: str, engine: sa.Engine, changes: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        migrate.run(_plan(db_url, **changes))
    assert message in raised.value.message
    assert len(_target(engine)) == 2


def test_a_target_without_the_key_column(db_url: str, engine: sa.Engine) -> None:
    plan = _plan(db_url)
    plan = MigrationPlan(
        plan.source, f"{db_url}#no_key", "kunnr", plan.mapping, file="plan.yaml", lines=plan.lines
    )
    with pytest.raises(
        InvalidInput, match=r"plan\.yaml, line 3, field 'key': the target has no key column 'kunnr'"
    ):
        migrate.run(plan)


def test_a_schema_change_mid_migration_stops_before_writing(db_url: str, engine: sa.Engine) -> None:
    plan = _plan(db_url)

    def alter(batch: int) -> None:
        if batch == 2:
            raise Crash

    with pytest.raises(Crash):
        migrate.run(plan, before_commit=alter)
    loaded = len(_target(engine))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE erp_kunden ADD COLUMN vkorg VARCHAR(4)"))
    with pytest.raises(Conflict, match="the target schema changed since run"):
        migrate.run(plan)
    assert len(_target(engine)) == loaded
    (open_run,) = migrate.runs(plan)
    migrate.rollback(plan, open_run["run_id"])
    assert len(_target(engine)) == 2
