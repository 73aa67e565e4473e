"""Rule files: every rule kind on real values, reports, and errors that name line and field."""

from __future__ import annotations

import polars as pl
import pytest

from isthmus.errors import InvalidInput, SyntaxProblem
from isthmus.quality import apply_rules, parse_rules

RULES = """\
rules:
  - type: trim
    columns: [name, phone]
  - type: halfwidth
    columns: name
  - type: company_suffix
    columns: [name]
  - type: case
    columns: [email]
    to: lower
  - type: phone
    columns: [phone]
  - type: date
    columns: [since]
  - type: map
    columns: [status]
    table: {A: active, I: inactive}
  - type: fill
    columns: [city]
    lookup: {key: phone_area, table: {"010": 北京, "021": 上海}}
  - type: fill
    columns: [region]
    from: city
  - type: fill
    columns: [email]
    constant: unknown@example.com
  - name: phone present
    type: validate
    columns: [phone]
    rule: phone != null and starts with(phone, "+86")
"""


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "name": ["  华通科技有限责任公司 ", "ＡＣＭＥ　co.,ltd", "远大（集团）有限公司"],
            "phone": ["138-0013-8000", " +86 10 6552 9988", "n/a"],
            "email": ["Ada@Example.COM", None, "x@y.cn"],
            "since": ["2024/6/3", "2024年06月30日", "yesterday"],
            "status": ["A", "I", "X"],
            "phone_area": ["021", "010", "999"],
            "city": [None, None, "广州"],
            "region": [None, "华北", None],
        }
    )


def test_every_rule_kind() -> None:
    result = apply_rules(_frame(), parse_rules(RULES, file="r.yaml").rules)
    out = result.frame
    assert out["name"].to_list() == ["华通科技有限公司", "ACME Co., Ltd.", "远大(集团)有限公司"]
    assert out["phone"].to_list() == ["+8613800138000", "+861065529988", "n/a"]
    assert out["email"].to_list() == ["ada@example.com", "unknown@example.com", "x@y.cn"]
    assert out["since"].to_list() == ["2024-06-03", "2024-06-30", "yesterday"]
    assert out["status"].to_list() == ["active", "inactive", "X"]
    assert out["city"].to_list() == ["上海", "北京", "广州"]
    assert out["region"].to_list() == ["上海", "华北", "广州"]
    validate = result.reports[-1]
    assert (validate.kind, validate.changed, validate.samples[0]["row"]) == ("validate", 1, 2)


def test_reports_count_and_sample_changes() -> None:
    result = apply_rules(_frame(), parse_rules(RULES).rules)
    suffix = next(r for r in result.reports if r.kind == "company_suffix")
    assert suffix.changed == 2
    assert suffix.samples[0] == {"row": 0, "before": "华通科技有限责任公司", "after": "华通科技有限公司"}
    fill = next(r for r in result.reports if r.column == "city")
    assert (fill.nulls_before, fill.nulls_after, fill.line) == (2, 0, 18)


def test_rerunning_changes_nothing() -> None:
    rules = parse_rules(RULES).rules
    once = apply_rules(_frame(), rules).frame
    again = apply_rules(once, rules)
    assert all(r.changed == 0 for r in again.reports if r.kind != "validate")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules:\n  - type: tidy\n    columns: [a]\n",
            "r.yaml, line 2, field 'type': unknown rule type 'tidy'",
        ),
        ("rules:\n  - type: case\n    columns: [a]\n    to: shout\n", "line 4, field 'to'"),
        ("rules:\n  - type: trim\n", "line 2, field 'columns'"),
        ("rules:\n  - type: trim\n    columns: [a]\n    colour: red\n", "line 4, field 'colour'"),
        ("rules:\n  - type: validate\n    rule: a >\n", "line 3, field 'rule': FEEL rule does not parse"),
        ("rules:\n  - type: fill\n    columns: [a]\n", "exactly one of constant, from, lookup"),
        ("rules: [\n", "r.yaml, line 2: not valid YAML"),
        ("steps: []\n", "line 1: unknown section 'steps'"),
    ],
)
def test_errors_name_line_and_field(text: str, message: str) -> None:
    with pytest.raises((InvalidInput, SyntaxProblem)) as raised:
        parse_rules(text, file="r.yaml")
    assert message in raised.value.message


def test_a_missing_column_stops_before_any_work() -> None:
    rules = parse_rules(
        "rules:\n  - type: trim\n    columns: [name]\n  - type: trim\n    columns: [nope]\n", file="r.yaml"
    )
    with pytest.raises(
        InvalidInput, match=r"r\.yaml, line 5, field 'columns': column 'nope' is not in the data"
    ):
        apply_rules(pl.DataFrame({"name": [" a "]}), rules.rules)
