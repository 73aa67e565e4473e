"""The JSON columns' codec: orjson where it can, the standard library where orjson refuses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from isthmus.adapters.storage.engine import dump_json, load_json

_json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(_json_values)
def test_a_value_comes_back_as_the_standard_library_reads_it(value: Any) -> None:
    text = dump_json(value)
    assert json.loads(text) == value
    assert load_json(text) == value


def test_chinese_text_is_stored_readable_not_escaped() -> None:
    assert dump_json({"部门": "财务部"}) == '{"部门":"财务部"}'


def test_integer_keys_and_huge_integers_fall_back_to_the_standard_library() -> None:
    assert json.loads(dump_json({1: "a"})) == {"1": "a"}
    assert load_json(dump_json({"n": 2**80})) == {"n": 2**80}


def test_nan_written_by_the_standard_library_still_reads() -> None:
    value = load_json('{"x": NaN}')
    assert value["x"] != value["x"]
