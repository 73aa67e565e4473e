"""The guide's demo models: tiered approval (CHG-2024-005) and phone validation (CHG-2024-008)."""

from __future__ import annotations

from pathlib import Path

import pytest

from isthmus.decisions import DecisionEngine, evaluate, load_dmn

DEMO = Path(__file__).parents[2] / "src" / "isthmus" / "demo" / "decisions"
APPROVAL = DecisionEngine([load_dmn(DEMO / "tiered-approval.dmn")])
PHONE = DecisionEngine([load_dmn(DEMO / "phone-validation.dmn")])


@pytest.mark.parametrize(
    ("amount", "approver", "finance"),
    [
        ("0", "department_manager", False),
        ("50000", "department_manager", False),
        ("50000.01", "director", False),
        ("99999.99", "director", False),
        ("100000", "director", True),
        ("2500000", "director", True),
    ],
)
def test_tiered_approval_boundaries(amount: str, approver: str, finance: bool) -> None:
    result = evaluate(APPROVAL, "approval_route", {"amount": float(amount) if "." in amount else int(amount)})
    assert result.value == {"approver": approver, "finance_pre_review": finance}
    assert result.warnings == ()


def test_tiered_approval_without_amount_is_null() -> None:
    assert evaluate(APPROVAL, "Approval route", {}).value is None


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("13812345678", True),
        ("138 1234 5678", True),
        ("+86 13812345678", True),
        ("+8613812345678", True),
        ("+852 91234567", True),
        ("+1 4155552671", True),
        ("1381234567", False),
        ("23812345678", False),
        ("+86 1381234", False),
        ("phone", False),
        ("", False),
    ],
)
def test_phone_formats(phone: str, valid: bool) -> None:
    result = evaluate(PHONE, "Phone check", {"phone": phone})
    assert result.value["valid"] is valid
    assert result.value["reason"]


def test_missing_phone_has_a_reason() -> None:
    assert evaluate(PHONE, "phone_validation", {"phone": None}).value == {
        "valid": False,
        "reason": "missing phone number 缺少电话号码",
    }
