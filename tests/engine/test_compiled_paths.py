"""The interpreter's shortcuts agree with the plain paths they replace.

* a condition or mapping sees only the variables its text names, converted to FEEL: the value is
  the one of evaluating it on the whole instance converted to FEEL;
* ``state_to_json``/``state_from_json`` (orjson) round-trip a state as ``json`` does;
* each node's :class:`Step` (history lines, uncontrolled flows) says what the node spec says.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isthmus import demo
from isthmus.engine import (
    Definition,
    InstanceState,
    InstanceStatus,
    Scope,
    ServiceCall,
    TaskClosed,
    TaskOpened,
    TimerSet,
    Token,
    Wait,
    definition_of,
    load_state,
    state_from_json,
    state_to_json,
)
from isthmus.engine._definition import feel_context
from isthmus.engine._effects import Ended
from isthmus.feel import compile_expression, from_feel
from isthmus.models import parse_bpmn

TEXTS = [
    "amount > 50000",
    'route.approver = "director"',
    "route.finance_pre_review = true",
    "count(items) > 1",
    "amount * 2 + quantity",
    'if ok then customer else "none"',
    "{a: amount, b: a + 1}",
    "items[item > 1]",
    "unknown_name",
    "sum(for i in items return i)",
    "string(amount)",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=6),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
variables = st.dictionaries(
    st.sampled_from(["amount", "quantity", "route", "items", "ok", "customer", "other"]),
    json_values,
    max_size=6,
)
DEFINITION = Definition(
    "k",
    1,
    parse_bpmn(b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="k" isExecutable="true"><startEvent id="s"/></process></definitions>""").process("k"),
)
COMPILED = {text: compile_expression(text) for text in TEXTS}
NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


@given(st.sampled_from(TEXTS), variables)
def test_a_condition_sees_what_it_would_see_in_the_whole_instance(text: str, context: dict[str, Any]) -> None:
    DEFINITION.expression(text)  # compiled before hypothesis times the example
    expected = from_feel(COMPILED[text].evaluate(feel_context(context)))
    assert DEFINITION.evaluate(text, context) == expected
    assert DEFINITION.is_true(text, context) is (expected is True)


tokens = st.lists(
    st.builds(
        Token,
        st.integers(1, 50),
        st.sampled_from(["a", "b", "join"]),
        st.integers(0, 3),
        st.sampled_from(list(Wait)),
        st.one_of(st.none(), st.sampled_from(["f1", "f2"])),
        st.integers(0, 4),
        st.one_of(st.none(), st.integers(1, 9)),
    ),
    max_size=4,
)
scopes = st.lists(
    st.builds(Scope, st.integers(1, 9), st.integers(0, 3), st.integers(1, 9), st.just("sub"), variables),
    max_size=2,
)
states = st.builds(
    InstanceState,
    st.just("k"),
    st.integers(1, 3),
    variables,
    tokens,
    scopes.map(lambda found: {s.id: s for s in found}),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=5),
    st.sampled_from(list(InstanceStatus)),
    st.integers(1, 99),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(1, 5)),
    st.one_of(st.none(), st.text(max_size=10)),
)


@given(states)
def test_the_state_codec_round_trips_as_json_does(state: InstanceState) -> None:
    through_json = load_state(json.loads(json.dumps(state.dump())))
    through_codec = state_from_json(state_to_json(state))
    assert through_codec == through_json
    assert json.loads(state_to_json(state)) == json.loads(json.dumps(state.dump()))


def test_the_codec_reads_what_json_wrote_and_writes_keys_json_would() -> None:
    state = InstanceState("k", 1, variables={"big": 2**70, "by_number": {1: "x"}})
    assert json.loads(state_to_json(state))["vars"] == {"big": 2**70, "by_number": {"1": "x"}}
    assert state_from_json(json.dumps(state.dump())) == load_state(json.loads(json.dumps(state.dump())))


def test_each_step_says_what_its_node_says() -> None:
    model = (Path(demo.__file__).parent / "processes" / "sal-ord-001.bpmn").read_bytes()
    definition = definition_of("SAL-ORD-001", 1, parse_bpmn(model))
    for node_id, step in definition.steps.items():
        node = definition.node(node_id)
        assert step.node is node
        assert step.kind == node.kind.value
        assert step.gateway is node.kind.is_gateway
        assert (step.started.node, step.started.lifecycle, step.completed.lifecycle) == (
            node_id,
            "start",
            "complete",
        )
        conditional = node.default_flow is not None or any(
            definition.flows[f].condition is not None for f in node.outgoing
        )
        assert step.uncontrolled == (None if conditional else node.outgoing)
        if step.uncontrolled is not None and len(step.uncontrolled) == 1:
            assert step.single == (node.outgoing[0], definition.flows[node.outgoing[0]].target)
        else:
            assert step.single is None
    actions = {node_id: step.action for node_id, step in definition.steps.items()}
    assert {n for n, a in actions.items() if a == "pass"} == {
        "order_received",
        "stock_check_late",
        "escalation_sent",
        "order_done",
        "approved",
        "fork",
    }
    assert actions["join"] == "parallel_gateway"
    assert actions["which_approver"] == "exclusive_gateway"
    assert definition.steps["which_approver"].uncontrolled is None
    assert definition.steps["fork"].uncontrolled == ("f_notify", "f_reserve")
    assert definition.steps["check_stock"].timers
    assert not definition.steps["enter_order"].timers


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        (TaskOpened, (3, "a", 2)),
        (ServiceCall, (1, "b", 7)),
        (TaskClosed, (4, "c", True)),
        (Ended, ("done",)),
        (TimerSet, (2, "t", 1, NOW, 3)),
    ],
)
def test_an_effect_made_by_its_quick_init_is_the_dataclass_it_was(cls: type, args: tuple[Any, ...]) -> None:
    made = cls(*args)
    names = [f.name for f in dataclasses.fields(cls)]
    assert [getattr(made, n) for n in names] == list(args)
    assert made == cls(**dict(zip(names, args, strict=True)))
    assert hash(made) == hash(cls(*args))
    assert (
        repr(made)
        == f"{cls.__name__}(" + ", ".join(f"{n}={a!r}" for n, a in zip(names, args, strict=True)) + ")"
    )
    assert dataclasses.replace(made) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, names[0], 99)
    with pytest.raises(TypeError):
        cls(*args, 1)
