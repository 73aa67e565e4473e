"""The adapters' JSON codec: orjson's speed without its silent losses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isthmus.adapters import json_codec


@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_integers_of_any_size_round_trip_exactly(number: int) -> None:
    text = json_codec.dumps({"id": number, "名": "张三"})
    assert json_codec.loads(text) == {"id": number, "名": "张三"}
    assert json_codec.loads(text.decode()) == {"id": number, "名": "张三"}


def test_utf8_out_and_non_string_keys_through_the_standard_library() -> None:
    assert json_codec.dumps({"名": "张三"}) == '{"名":"张三"}'.encode()
    assert json.loads(json_codec.dumps({1: "a"})) == {"1": "a"}


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '["\\ud800"]', "[" * 2000 + "]" * 2000])
def test_strict_reading_refuses_what_is_not_json_and_lenient_reading_takes_what_python_wrote(
    text: str,
) -> None:
    with pytest.raises(json.JSONDecodeError):
        json_codec.loads(text)
    if "[[" not in text:
        assert json_codec.loads(text, strict=False) == json.loads(text)
