"""What changed between two versions of a process: nodes and flows added, removed or changed.

Nodes are matched by id at every depth (a node moved into a sub-process is "changed", its scope
differs). A node is changed when its name, kind, event, boundary attachment, default flow,
properties or multi-instance settings differ; its incoming and outgoing flows are left to the
flow comparison so that re-routing one flow is reported once, on that flow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from isthmus.models._specs import FlowSpec, NodeSpec, ProcessSpec

_NODE_FIELDS = (
    "name",
    "kind",
    "event",
    "attached_to",
    "cancel_activity",
    "default_flow",
    "triggered_by_event",
)


@dataclass(frozen=True, slots=True)
class Change:
    """One element that differs; ``fields`` maps a dotted field name to (before, after) as JSON data."""

    id: str
    name: str
    kind: str
    fields: Mapping[str, tuple[Any, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "fields": {k: {"before": v[0], "after": v[1]} for k, v in self.fields.items()},
        }


@dataclass(frozen=True, slots=True)
class ElementSummary:
    id: str
    name: str
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class ElementDiff:
    added: tuple[ElementSummary, ...] = ()
    removed: tuple[ElementSummary, ...] = ()
    changed: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": [a.as_dict() for a in self.added],
            "removed": [r.as_dict() for r in self.removed],
            "changed": [c.as_dict() for c in self.changed],
        }


@dataclass(frozen=True, slots=True)
class ProcessDiff:
    """The difference between two versions of one process (``before`` → ``after``)."""

    nodes: ElementDiff
    flows: ElementDiff
    renamed: tuple[str, str] | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.nodes or self.flows or self.renamed)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"nodes": self.nodes.as_dict(), "flows": self.flows.as_dict()}
        if self.renamed:
            body["name"] = {"before": self.renamed[0], "after": self.renamed[1]}
        return body


def diff_processes(before: ProcessSpec, after: ProcessSpec) -> ProcessDiff:
    """Compare two versions of a process, sub-processes included.

    Example:
        >>> from isthmus.models._specs import ProcessSpec
        >>> diff_processes(ProcessSpec("p", "P", True), ProcessSpec("p", "P", True)).is_empty
        True
    """
    old_nodes = {n.id: n for _, n in before.walk()}
    new_nodes = {n.id: n for _, n in after.walk()}
    old_flows = {f.id: f for _, f in before.walk_flows()}
    new_flows = {f.id: f for _, f in after.walk_flows()}
    old_scopes = {n.id: s.id for s, n in before.walk()}
    new_scopes = {n.id: s.id for s, n in after.walk()}
    node_changes = []
    for node_id in sorted(old_nodes.keys() & new_nodes.keys()):
        differences = dict(_node_differences(old_nodes[node_id], new_nodes[node_id]))
        if old_scopes[node_id] != new_scopes[node_id]:
            differences["scope"] = (old_scopes[node_id], new_scopes[node_id])
        if differences:
            node = new_nodes[node_id]
            node_changes.append(Change(node.id, node.name, node.kind.value, differences))
    flow_changes = []
    for flow_id in sorted(old_flows.keys() & new_flows.keys()):
        differences = dict(_flow_differences(old_flows[flow_id], new_flows[flow_id]))
        if differences:
            flow = new_flows[flow_id]
            flow_changes.append(Change(flow.id, flow.name, "sequence_flow", differences))
    renamed = (before.name, after.name) if before.name != after.name else None
    return ProcessDiff(
        nodes=ElementDiff(
            added=tuple(_node_summary(new_nodes[i]) for i in sorted(new_nodes.keys() - old_nodes.keys())),
            removed=tuple(_node_summary(old_nodes[i]) for i in sorted(old_nodes.keys() - new_nodes.keys())),
            changed=tuple(node_changes),
        ),
        flows=ElementDiff(
            added=tuple(_flow_summary(new_flows[i]) for i in sorted(new_flows.keys() - old_flows.keys())),
            removed=tuple(_flow_summary(old_flows[i]) for i in sorted(old_flows.keys() - new_flows.keys())),
            changed=tuple(flow_changes),
        ),
        renamed=renamed,
    )


def _node_summary(node: NodeSpec) -> ElementSummary:
    return ElementSummary(node.id, node.name, node.kind.value)


def _flow_summary(flow: FlowSpec) -> ElementSummary:
    return ElementSummary(flow.id, flow.name, "sequence_flow")


def _node_differences(old: NodeSpec, new: NodeSpec) -> Iterator[tuple[str, tuple[Any, Any]]]:
    for name in _NODE_FIELDS:
        yield from _differences(name, getattr(old, name), getattr(new, name))
    yield from _differences("props", old.props, new.props)
    yield from _differences("multi_instance", old.multi_instance, new.multi_instance)


def _flow_differences(old: FlowSpec, new: FlowSpec) -> Iterator[tuple[str, tuple[Any, Any]]]:
    for name in ("name", "source", "target", "condition"):
        yield from _differences(name, getattr(old, name), getattr(new, name))


def _differences(path: str, old: Any, new: Any) -> Iterator[tuple[str, tuple[Any, Any]]]:
    """Field-by-field differences of two values (dataclasses are opened up, lines ignored)."""
    if old == new:
        return
    if is_dataclass(old) and is_dataclass(new) and type(old) is type(new):
        for f in fields(old):
            if f.compare:
                yield from _differences(f"{path}.{f.name}", getattr(old, f.name), getattr(new, f.name))
        return
    yield path, (_json(old), _json(new))


def _json(value: Any) -> Any:
    """A JSON-friendly rendering of a spec value, for diffs shown in the CLI, API and browser."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name)) for f in fields(value) if f.compare}
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    return str(value)
