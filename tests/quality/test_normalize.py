"""Normalizers: examples from the guide and properties (idempotence, E.164 of generated numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isthmus.quality import SuffixCanonicalizer, pattern_class, phone_e164, to_halfwidth

CANON = SuffixCanonicalizer()
_names = st.text(
    alphabet=st.sampled_from("华通科技贸易ABC abc,.()（）有限责任公司股份集团Co.LtdIncorp 　１２"),
    max_size=24,
)


@given(st.text(max_size=40))
def test_halfwidth_is_idempotent(text: str) -> None:
    once = to_halfwidth(text)
    assert to_halfwidth(once) == once


@given(st.text(alphabet=st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E), max_size=20))
def test_every_fullwidth_ascii_form_becomes_ascii(text: str) -> None:
    assert to_halfwidth(text).isascii()


@given(_names)
def test_suffix_canonicalization_is_idempotent(name: str) -> None:
    once = CANON.canonical(name)
    assert CANON.canonical(once) == once


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("华通科技有限责任公司", "华通科技有限公司"),
        ("华通科技有限公司", "华通科技有限公司"),
        ("远大股份有限公司", "远大股份有限公司"),
        ("远大股份公司", "远大股份有限公司"),
        ("海尔（集团）有限责任公司", "海尔(集团)有限公司"),
        ("Acme co.,ltd", "Acme Co., Ltd."),
        ("Acme Co., Ltd.", "Acme Co., Ltd."),
        ("Acme Company Limited", "Acme Co., Ltd."),
        ("Acme Co.  Ltd.", "Acme Co., Ltd."),
        ("Acme co.,\tltd", "Acme Co., Ltd."),
        ("Acme company   limited", "Acme Co., Ltd."),
        ("Zinc", "Zinc"),
        ("Globex corporation", "Globex Corp."),
        ("有限公司", "有限公司"),
    ],
)
def test_suffix_examples(raw: str, canonical: str) -> None:
    assert CANON.canonical(raw) == canonical


@given(st.sampled_from("3456789"), st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 4))
def test_generated_cn_mobiles_become_e164_in_any_format(second: str, rest: str, style: int) -> None:
    number = f"1{second}{rest}"
    written = (number, f"+86 {number[:3]} {number[3:7]} {number[7:]}", f"{number[:3]}-{number[3:7]}-{number[7:]}",
               f"0086{number}", f"(+86){number}")[style]  # fmt: skip
    assert phone_e164(written) == f"+86{number}"


def test_landlines_and_rubbish() -> None:
    assert phone_e164("010-6552 9988") == "+861065529988"
    assert phone_e164("not a phone") is None
    assert phone_e164("+1 650 253 0000") == "+16502530000"
    assert phone_e164("12345") is None  # local-only: no area code, so no E.164 form to invent


def test_pattern_classes() -> None:
    assert pattern_class("138-0013-8000") == "999-9999-9999"
    assert pattern_class("上海Ab 1号") == "汉汉AA 9汉"
