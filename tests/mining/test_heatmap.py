"""The heat map's matching of BPMN nodes to log activities and its colour scale."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from isthmus.mining._heatmap import LEVELS, ActivityTimes, FlowNodeRef, heat_map, level, match_activity

ACTIVITIES = ["Enter order", "Check", "审核 订单"]


def test_a_node_matches_by_name_first_then_by_id() -> None:
    assert match_activity(FlowNodeRef("t1", "userTask", " Enter\n order "), ACTIVITIES) == (
        "Enter order",
        "name",
    )
    assert match_activity(FlowNodeRef("Check", "userTask", "Enter order"), ACTIVITIES) == (
        "Enter order",
        "name",
    )
    assert match_activity(FlowNodeRef("Check", "userTask", "Other"), ACTIVITIES) == ("Check", "id")
    assert match_activity(FlowNodeRef("审核订单", "userTask", "审核  订单"), ACTIVITIES) == (
        "审核 订单",
        "name",
    )
    assert match_activity(FlowNodeRef("x", "task", ""), ACTIVITIES) is None


@given(st.floats(0, 1e9), st.floats(0, 1e9))
def test_every_value_is_on_a_level_from_1_to_the_top(value: float, top: float) -> None:
    found = level(min(value, top), top)
    assert 1 <= found <= LEVELS
    assert level(top, top) == (LEVELS if top > 0 else 1)


def test_levels_split_the_range_into_equal_steps() -> None:
    assert [level(v, 100.0) for v in (0, 19.9, 20, 59, 60, 99, 100)] == [1, 1, 2, 3, 4, 5, 5]


def test_the_map_lists_every_node_and_the_activities_left_over() -> None:
    times = {
        "Enter order": ActivityTimes(2, 0.0, 0.0, 600.0),
        "Check": ActivityTimes(2, 100.0, 180.0, 60.0),
        "Ship": ActivityTimes(1, 50.0, 50.0, 1.0),
    }
    nodes = [FlowNodeRef("a", "userTask", "Enter order"), FlowNodeRef("Check", "userTask", ""),
             FlowNodeRef("g", "exclusiveGateway", "")]  # fmt: skip
    found = heat_map(nodes, times, breaches={"Check": {"sla_s": 60.0, "breaches": 2}})
    assert [n["activity"] for n in found["nodes"]] == ["Enter order", "Check", None]
    assert [n.get("level") for n in found["nodes"]] == [1, 5, None]
    assert found["nodes"][1]["sla"] == {"sla_s": 60.0, "breaches": 2}
    assert found["unmatched_activities"] == ["Ship"]
    assert (found["matched"], found["max_s"], found["metric"]) == (2, 100.0, "mean")
