"""Small BPMN documents for tests: a process body in, the bytes of a whole file out."""

from __future__ import annotations

import itertools

NAMESPACES = (
    'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:isthmus="https://isthmus.dev/schema/bpmn" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
)


def bpmn(body: str, *, executable: bool = True, roots: str = "", process_id: str = "p") -> bytes:
    """A ``<definitions>`` with ``roots`` (messages, errors …) and one process around ``body``."""
    flag = "true" if executable else "false"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions {NAMESPACES} id="defs">\n{roots}\n'
        f'<process id="{process_id}" isExecutable="{flag}">\n{body}\n</process>\n</definitions>\n'
    ).encode()


def line(source: str, target: str, flow_id: str | None = None, condition: str | None = None) -> str:
    """A sequence flow, with a condition expression when given."""
    fid = flow_id or f"{source}-{target}"
    if condition is None:
        return f'<sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
    return (
        f'<sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
        f"<conditionExpression>{condition}</conditionExpression></sequenceFlow>"
    )


def straight(*nodes: str) -> str:
    """Flows linking the node ids in order: ``straight("s", "t", "e")`` → s→t, t→e."""
    return "\n".join(line(a, b) for a, b in itertools.pairwise(nodes))
