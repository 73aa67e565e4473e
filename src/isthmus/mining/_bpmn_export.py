"""The discovered (as-is) process as a laid-out BPMN 2.0 file with diagram interchange (DI), the
starting point of the to-be design in any BPMN modeler.

Path coverage ``c`` keeps the most frequent directly-follows edges until they hold ``c`` of all
transitions (always at least each kept activity's most frequent incoming edge, so nothing is left
dangling). An activity with several kept successors gets an exclusive (XOR) split after it, one with
several predecessors an XOR join before it. Layout: left to right, each node in the layer of its
longest path from the start event (back edges of loops ignored), rows in order of frequency.
"""

from __future__ import annotations

from collections import defaultdict
from xml.sax.saxutils import quoteattr

from isthmus.mining._discovery import Dfg

TASK_W, TASK_H, GATE, EVENT = 120, 60, 50, 36
COL, ROW, MARGIN = 180, 110, 60
START_NODE, END_NODE = "__start", "__end"


def kept_edges(graph: Dfg, coverage: float) -> dict[tuple[str, str], int]:
    """The edges the coverage keeps, start (``__start``) and end (``__end``) edges included."""
    edges = dict(graph.edges)
    edges.update({(START_NODE, a): n for a, n in graph.start.items()})
    edges.update({(a, END_NODE): n for a, n in graph.end.items()})
    total = sum(edges.values()) or 1
    ordered = sorted(edges.items(), key=lambda e: (-e[1], e[0]))
    kept: dict[tuple[str, str], int] = {}
    running = 0
    for edge, n in ordered:
        if running / total >= coverage and kept:
            break
        kept[edge] = n
        running += n
    reached = {t for _s, t in kept} | {s for s, _t in kept}
    # Every kept activity needs a way in and a way out: add its strongest missing ones.
    for node in sorted(reached - {START_NODE, END_NODE}):
        for side in (0, 1):
            if not any(e[1 - side] == node for e in kept):
                best = max((e for e in ordered if e[0][1 - side] == node), key=lambda e: e[1], default=None)
                if best is not None:
                    kept[best[0]] = best[1]
    return kept


def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    succ: dict[str, list[str]] = defaultdict(list)
    for s, t in edges:
        succ[s].append(t)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}

    def visit(n: str) -> None:  # iterative-enough DFS for process-sized graphs
        state[n] = 1
        for m in succ[n]:
            if state.get(m) == 1:
                back.add((n, m))
            elif m not in state:
                visit(m)
        state[n] = 2

    visit(START_NODE)
    for n in nodes:
        if n not in state:
            visit(n)
    layer = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):
        changed = False
        for s, t in edges:
            if (s, t) not in back and layer[t] < layer[s] + 1:
                layer[t], changed = layer[s] + 1, True
        if not changed:
            break
    return layer


def discovered_bpmn(graph: Dfg, *, coverage: float = 1.0, name: str = "As-is process") -> str:
    """BPMN 2.0 XML (with DI) of the DFG filtered to ``coverage`` (0–1) of its transitions."""
    kept = kept_edges(graph, coverage)
    activities = sorted({n for e in kept for n in e} - {START_NODE, END_NODE})
    ids = {a: f"Activity_{i + 1}" for i, a in enumerate(activities)} | {
        START_NODE: "StartEvent_1",
        END_NODE: "EndEvent_1",
    }
    outs: dict[str, list[str]] = defaultdict(list)
    ins: dict[str, list[str]] = defaultdict(list)
    for s, t in kept:
        outs[s].append(t)
        ins[t].append(s)
    # Expanded graph: gateways where a node has several successors / predecessors.
    kinds = {ids[a]: "task" for a in activities} | {"StartEvent_1": "startEvent", "EndEvent_1": "endEvent"}
    labels = {ids[a]: a for a in activities}
    flows: list[tuple[str, str]] = []
    exit_of = {n: ids[n] for n in ids}
    entry_of = {n: ids[n] for n in ids}
    for n in ids:
        if len(outs[n]) > 1:
            gw = f"Gateway_split_{ids[n]}"
            kinds[gw] = "exclusiveGateway"
            flows.append((ids[n], gw))
            exit_of[n] = gw
        if len(ins[n]) > 1:
            gw = f"Gateway_join_{ids[n]}"
            kinds[gw] = "exclusiveGateway"
            flows.append((gw, ids[n]))
            entry_of[n] = gw
    for s, t in sorted(kept, key=lambda e: (-kept[e], e)):
        flows.append((exit_of[s], entry_of[t]))
    layer = _layers(list(kinds), flows)
    return _xml(name, kinds, labels, flows, layer)


def _size(kind: str) -> tuple[int, int]:
    if kind == "task":
        return TASK_W, TASK_H
    return (GATE, GATE) if kind.endswith("Gateway") else (EVENT, EVENT)


def _xml(
    name: str,
    kinds: dict[str, str],
    labels: dict[str, str],
    flows: list[tuple[str, str]],
    layer: dict[str, int],
) -> str:
    rows: dict[int, int] = defaultdict(int)
    centre: dict[str, tuple[float, float]] = {}
    for node in kinds:  # insertion order: activities by name, then gateways
        col = layer[node]
        centre[node] = (MARGIN + col * COL + TASK_W / 2, MARGIN + rows[col] * ROW + TASK_H / 2)
        rows[col] += 1
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="Definitions_asis" '
        'targetNamespace="http://isthmus.dev/bpmn" exporter="Isthmus" exporterVersion="1">',
        f'  <bpmn:process id="Process_asis" name={quoteattr(name)} isExecutable="false">',
    ]
    flow_ids = [f"Flow_{i + 1}" for i in range(len(flows))]
    for node, kind in kinds.items():
        label = f" name={quoteattr(labels[node])}" if node in labels else ""
        inner = [
            f"      <bpmn:incoming>{f}</bpmn:incoming>"
            for f, (_s, t) in zip(flow_ids, flows, strict=True)
            if t == node
        ]
        inner += [
            f"      <bpmn:outgoing>{f}</bpmn:outgoing>"
            for f, (s, _t) in zip(flow_ids, flows, strict=True)
            if s == node
        ]
        out.append(f'    <bpmn:{kind} id="{node}"{label}>')
        out.extend(inner)
        out.append(f"    </bpmn:{kind}>")
    for f, (s, t) in zip(flow_ids, flows, strict=True):
        out.append(f'    <bpmn:sequenceFlow id="{f}" sourceRef="{s}" targetRef="{t}" />')
    out.append("  </bpmn:process>")
    out.append('  <bpmndi:BPMNDiagram id="Diagram_asis">')
    out.append('    <bpmndi:BPMNPlane id="Plane_asis" bpmnElement="Process_asis">')
    for node, kind in kinds.items():
        w, h = _size(kind)
        x, y = centre[node]
        marker = ' isMarkerVisible="true"' if kind == "exclusiveGateway" else ""
        out.append(f'      <bpmndi:BPMNShape id="{node}_di" bpmnElement="{node}"{marker}>')
        out.append(f'        <dc:Bounds x="{x - w / 2:.0f}" y="{y - h / 2:.0f}" width="{w}" height="{h}" />')
        out.append("      </bpmndi:BPMNShape>")
    for f, (s, t) in zip(flow_ids, flows, strict=True):
        (sx, sy), (tx, ty) = centre[s], centre[t]
        sw, tw = _size(kinds[s])[0], _size(kinds[t])[0]
        x1, x2 = sx + sw / 2, tx - tw / 2
        points = [(x1, sy), (x2, ty)]
        if tx <= sx:  # a loop back: route above the nodes
            top = min(sy, ty) - TASK_H
            points = [
                (sx, sy - _size(kinds[s])[1] / 2),
                (sx, top),
                (tx, top),
                (tx, ty - _size(kinds[t])[1] / 2),
            ]
        elif sy != ty:
            mid = (x1 + x2) / 2
            points = [(x1, sy), (mid, sy), (mid, ty), (x2, ty)]
        out.append(f'      <bpmndi:BPMNEdge id="{f}_di" bpmnElement="{f}">')
        out.extend(f'        <di:waypoint x="{px:.0f}" y="{py:.0f}" />' for px, py in points)
        out.append("      </bpmndi:BPMNEdge>")
    out.append("    </bpmndi:BPMNPlane>")
    out.append("  </bpmndi:BPMNDiagram>")
    out.append("</bpmn:definitions>")
    return "\n".join(out) + "\n"


def map_layout(graph: Dfg) -> dict[str, tuple[int, int]]:
    """(column, row) of every activity and of ``__start``/``__end`` for a left-to-right process map:
    the column is the longest path from the start (loops ignored), rows by frequency within a column."""
    edges = kept_edges(graph, 1.0)
    nodes = sorted({n for e in edges for n in e})
    layer = _layers(nodes, list(edges))
    layer[END_NODE] = max((v for k, v in layer.items() if k != END_NODE), default=0) + 1
    weight = graph.activities
    rows: dict[int, int] = defaultdict(int)
    out: dict[str, tuple[int, int]] = {}
    for node in sorted(nodes, key=lambda n: (layer[n], -weight.get(n, 0), n)):
        out[node] = (layer[node], rows[layer[node]])
        rows[layer[node]] += 1
    return out
