from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from isthmus.demo.integration import GUIDE_FLOWS, flow_text
from isthmus.errors import InvalidInput, SyntaxProblem
from isthmus.integration import EXAMPLE, CronSchedule, TriggerKind, parse_flow

BROKEN = """\
flow: crm-erp
source: {system: CRM, connector: webhook}
target: {system: ERP}
mapping:
  vbeln: order_id +
  kunnr: cust_code
transforms:
  kunnr: {type: money}
trigger: {cron: "0 25 * * *"}
idempotency_key: order_id
"""


def test_every_problem_names_its_line_and_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_flow(BROKEN, file="crm-erp.yaml")
    found = {(d.location.line, d.location.field) for d in caught.value.details if d.location}
    assert found == {
        (5, "mapping.vbeln"),
        (3, "target.connector"),
        (8, "transforms.kunnr.type"),
        (9, "trigger.cron"),
    }
    assert "crm-erp.yaml, line 5, field 'mapping.vbeln'" in caught.value.details[0].message


def test_yaml_that_does_not_parse_names_line_and_column() -> None:
    with pytest.raises(SyntaxProblem) as caught:
        parse_flow("flow: x\nmapping: {a: b\n", file="f.yaml")
    assert caught.value.location is not None
    assert caught.value.location.line == 3


def test_yaml_is_loaded_safely() -> None:
    with pytest.raises(SyntaxProblem):
        parse_flow("flow: !!python/object/apply:os.system ['true']\n")


def test_defaults_follow_the_guide() -> None:
    flow = parse_flow(EXAMPLE)
    assert flow.delivery.max_attempts == 4  # 1 try + "retry automatically 3 times"
    assert flow.trigger.kind is TriggerKind.WEBHOOK
    assert flow.idempotency_key == "order_id"


@pytest.mark.parametrize("name", GUIDE_FLOWS)
def test_the_guides_three_flows_are_valid(name: str, tmp_path: Path) -> None:
    flow = parse_flow(flow_text(name, tmp_path), file=name)
    assert flow.id == name


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("0 22 * * *", datetime(2024, 7, 15, 12, 0, tzinfo=UTC), datetime(2024, 7, 15, 14, 0, tzinfo=UTC)),
        ("0 22 * * *", datetime(2024, 7, 15, 14, 0, tzinfo=UTC), datetime(2024, 7, 16, 14, 0, tzinfo=UTC)),
        (
            "*/15 9-10 * * 1-5",
            datetime(2024, 7, 13, 0, 0, tzinfo=UTC),
            datetime(2024, 7, 15, 1, 0, tzinfo=UTC),
        ),
        ("30 8 1 * *", datetime(2024, 7, 2, 0, 0, tzinfo=UTC), datetime(2024, 8, 1, 0, 30, tzinfo=UTC)),
    ],
)
def test_cron_in_shanghai(text: str, after: datetime, expected: datetime) -> None:
    assert CronSchedule.parse(text, "Asia/Shanghai").next_after(after) == expected
