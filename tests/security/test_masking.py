"""Personal data is masked before it reaches the audit trail."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from isthmus.security import mask_personal_data, mask_phone


def test_phone_middle_four_digits_are_hidden() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 13812345678") == "+86 138****5678"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_any_mainland_mobile_in_free_text_is_masked(number: str) -> None:
    masked = mask_personal_data({"note": f"客户电话 {number} 请回电"})
    assert number not in masked["note"]
    assert number[:3] + "****" + number[-4:] in masked["note"]


def test_secrets_and_id_numbers_are_masked_at_any_depth() -> None:
    masked = mask_personal_data(
        {
            "user": {"password": "hunter22", "id_number": "110101199003071234"},
            "rows": [{"email": "zhang@example.com"}],
        }
    )
    assert masked == {
        "user": {"password": "***", "id_number": "110101********1234"},
        "rows": [{"email": "z***@example.com"}],
    }
