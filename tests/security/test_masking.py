"""Personal data is masked before it reaches the audit trail."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from isthmus.security import mask_personal_data, mask_phone
from isthmus.security._masking import _CN_ID, _CN_MOBILE, mask_text


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


def _both_substitutions(value: str) -> str:
    """``mask_text`` without its shortcut: the ID pattern, then the mobile one, on any text."""
    value = _CN_ID.sub(lambda m: m.group(1) + "********" + m.group(3), value)
    return _CN_MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", value)


@given(
    st.lists(
        st.one_of(
            st.from_regex(r"(\+86[- ]?)?1[3-9]\d{9}", fullmatch=True),
            st.from_regex(r"\d{17}[\dXx]", fullmatch=True),
            st.text(alphabet="0123456789", min_size=1, max_size=20),
            st.text(alphabet="0123456789 -+Xx号码电话abc", max_size=12),
            st.text(max_size=8),
        ),
        max_size=6,
    ).map("".join)
)
def test_text_without_eleven_digits_in_a_row_is_returned_as_is_and_the_rest_fully_masked(value: str) -> None:
    assert mask_text(value) == _both_substitutions(value)
