"""Cleansing rules inside flows: a rules file read at deploy time, run before the FEEL mapping on each
record and each chunk, end to end from a real CSV inbox into a real SQLite target."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from isthmus.adapters.connectors.sources import pull
from isthmus.bootstrap import Container
from isthmus.errors import InvalidInput
from isthmus.integration import FlowMapper, MappedRecord, MessageState, Rejected, inline_cleanse, parse_flow
from isthmus.quality import RuleKind
from isthmus.security import SYSTEM
from isthmus.testing import FakeClock

# The guide's phone rule (CHG-2024-008: country code + 11 digits) as cleansing: normalise to E.164
# with CN as the default region, then require a Chinese mobile in E.164; company names canonical.
RULES = """\
rules:
  - name: phone to E.164
    type: phone
    columns: [phone]
    region: CN
  - name: company suffix
    type: company_suffix
    columns: [company]
  - name: "CHG-2024-008: phone must be a mobile number in E.164"
    type: validate
    rule: 'matches(phone, "^\\\\+861[3-9]\\\\d{9}$")'
"""

FLOW = """\
flow: customers-sync
source: {{system: CRM, connector: files, options: {{folder: "{folder}"}}}}
target: {{system: ERP, connector: sql, options: {{url: "{url}", table: kna1, key: [kunnr]}}}}
trigger: {{poll: 60s}}
cleanse: rules/customers.yaml
mapping: {{kunnr: code, name1: company, telf1: phone}}
idempotency_key: code
delivery: {{attempts: 2, backoff: 1s}}
"""

CSV = """\
code,company,phone
C1,华通科技有限责任公司,138 1234 5678
C2,Acme Company Limited,+86-139-0000-1111
C3,上海华通(集团)有限公司,12345
C4,星河贸易有限公司,(0086) 186 0000 2222
"""


@pytest.fixture
def target_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kna1 (kunnr VARCHAR(20) PRIMARY KEY, name1 TEXT, telf1 TEXT)"))
    engine.dispose()
    return url


@pytest.fixture
def deployed(container: Container, target_url: str, tmp_path: Path) -> Container:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "flows" / "rules").mkdir(parents=True)
    rules = tmp_path / "flows" / "rules" / "customers.yaml"
    rules.write_text(RULES, encoding="utf-8")
    flow_file = tmp_path / "flows" / "customers.yaml"
    flow_file.write_text(FLOW.format(folder=tmp_path / "inbox", url=target_url), encoding="utf-8")
    container.flows.deploy(SYSTEM, flow_file.read_text(encoding="utf-8"), str(flow_file))
    rules.unlink()  # the deployed version carries its rules: the file is not needed any more
    return container


def target_rows(url: str) -> dict[str, tuple[str, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {r[0]: (r[1], r[2]) for r in conn.execute(text("SELECT kunnr, name1, telf1 FROM kna1"))}
    engine.dispose()
    return found


def deliver_all(container: Container, clock: FakeClock) -> None:
    runner = container.job_runner("test-worker")
    for _ in range(4):
        runner.run_until_idle()
        clock.advance(hours=1)


def test_a_csv_is_cleansed_by_the_rules_file_before_mapping_and_violations_are_dead_lettered(
    deployed: Container, target_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    (tmp_path / "inbox" / "customers.csv").write_text(CSV, encoding="utf-8")
    run = pull(deployed.flows, SYSTEM, "customers-sync", cursor_dir=tmp_path / "cursors")
    assert (run.report.accepted, run.report.rejected) == (3, 1)
    deliver_all(deployed, clock)
    assert target_rows(target_url) == {
        "C1": ("华通科技有限公司", "+8613812345678"),
        "C2": ("Acme Co., Ltd.", "+8613900001111"),
        "C4": ("星河贸易有限公司", "+8618600002222"),
    }
    dead = deployed.flows.messages(SYSTEM, flow_id="customers-sync", states=(MessageState.DEAD_LETTERED,))
    assert [(m.row_number, m.last_error) for m in dead] == [
        (3, "cleanse: CHG-2024-008: phone must be a mobile number in E.164")
    ]
    assert dead[0].payload["phone"] == "12345"  # dead-lettered as read: a replay cleanses it again


def test_a_pushed_record_is_cleansed_row_by_row_as_a_chunk_row_is(deployed: Container) -> None:
    _, flow = deployed.flows.get(SYSTEM, "customers-sync")
    assert [r.kind for r in flow.cleanse] == [RuleKind.PHONE, RuleKind.COMPANY_SUFFIX, RuleKind.VALIDATE]
    assert "inlined from rules/customers.yaml" in flow.text
    mapper = FlowMapper(flow)
    records = [
        {"code": "C9", "company": "华通科技有限责任公司", "phone": "13812345678"},
        {"code": "C8", "company": "Acme Inc", "phone": "not a phone"},
        {"code": "C7", "company": "星河贸易股份有限公司"},  # no phone at all: null, which the check fails
    ]
    one_by_one = [mapper.map_record(r, row) for row, r in enumerate(records, start=1)]
    batched = list(mapper.map_frame(pl.DataFrame(records), first_row=1))
    first = one_by_one[0]
    assert isinstance(first, MappedRecord)
    assert first.payload == {"kunnr": "C9", "name1": "华通科技有限公司", "telf1": "+8613812345678"}
    assert [type(r) for r in one_by_one] == [MappedRecord, Rejected, Rejected]
    errors = [(r.row, r.error) for r in one_by_one if isinstance(r, Rejected)]
    assert errors == [(r.row, r.error) for r in batched if isinstance(r, Rejected)]
    assert errors[0] == (2, "cleanse: CHG-2024-008: phone must be a mobile number in E.164")
    assert isinstance(batched[0], MappedRecord)
    assert batched[0].payload == first.payload


def test_inline_rules_and_their_errors_name_line_and_field() -> None:
    base = "flow: f\nsource: {system: A, connector: webhook}\ntarget: {system: B, connector: http}\n"
    tail = "mapping: {id: code}\nidempotency_key: code\n"
    ok = parse_flow(base + "cleanse:\n  - {type: trim, columns: [code]}\n" + tail)
    assert [r.kind for r in ok.cleanse] == [RuleKind.TRIM]
    assert ok.cleanse[0].line == 5
    bad = base + "cleanse:\n  - type: case\n    columns: [code]\n    to: sideways\n" + tail
    with pytest.raises(InvalidInput) as raised:
        parse_flow(bad, file="f.yaml")
    problem = raised.value.details[0]
    assert problem.location is not None
    assert (problem.location.file, problem.location.line, problem.location.field) == (
        "f.yaml",
        7,
        "cleanse.to",
    )
    unknown = base + "cleanse:\n  - {type: shout, columns: [code]}\n" + tail
    with pytest.raises(InvalidInput, match=r"line 5, field 'cleanse.type'.*unknown rule type 'shout'"):
        parse_flow(unknown, file="f.yaml")


def test_a_rules_file_must_be_read_at_deploy_and_stay_inside_its_folder(tmp_path: Path) -> None:
    flow = "flow: f\nsource: {system: A, connector: webhook}\ncleanse: ../secret.yaml\n"
    with pytest.raises(InvalidInput, match="relative to the flow file"):
        inline_cleanse(flow, lambda p: (tmp_path / p).read_text(), file="f.yaml")
    with pytest.raises(InvalidInput, match=r"line 3, field 'cleanse'.*was not read"):
        parse_flow(flow.replace("../secret", "rules") + "mapping: {a: b}\nidempotency_key: b\n")
    (tmp_path / "bad.yaml").write_text("rules:\n  - type: phone\n    colums: [p]\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad.yaml, line 2"):
        inline_cleanse(flow.replace("../secret", "bad"), lambda p: (tmp_path / p).read_text(), file="f.yaml")


def test_flow_validate_on_the_command_line_reads_the_rules_file_beside_the_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from isthmus.adapters.cli.main import run

    monkeypatch.setenv("ISTHMUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ISTHMUS_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # the rules file is found beside the flow, not in the working directory
    (tmp_path / "flows" / "rules").mkdir(parents=True)
    flow = tmp_path / "flows" / "customers.yaml"
    flow.write_text(FLOW.format(folder=tmp_path / "inbox", url="sqlite://"), encoding="utf-8")
    rules = tmp_path / "flows" / "rules" / "customers.yaml"
    rules.write_text(RULES, encoding="utf-8")
    assert run(["flow", "validate", str(flow)]) == 0
    rules.write_text("rules:\n  - type: case\n    columns: [company]\n    to: sideways\n", encoding="utf-8")
    capsys.readouterr()
    assert run(["flow", "validate", str(flow)]) != 0
    assert "rules/customers.yaml, line 4, field 'to'" in capsys.readouterr().err
