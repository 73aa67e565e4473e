"""Multi-instance activities (BPMN 2.0 §13.3.7, Zeebe semantics): parallel or sequential, over
a collection or a cardinality, with a completion condition and an output collection.

The activity's token waits on a *body* scope; each instance runs in its own child scope holding
``loopCounter`` and the element variable, so instances never see each other's item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from isthmus.engine._definition import as_count
from isthmus.engine._effects import EngineIncident
from isthmus.engine._events import arm_boundaries, cancel_scope
from isthmus.engine._state import InstanceState, Scope, Token, Wait
from isthmus.models import NodeSpec

if TYPE_CHECKING:
    from isthmus.engine._interpreter import Interpreter


def is_body(state: InstanceState, token: Token) -> bool:
    """Whether ``token`` runs one instance of a multi-instance activity (not the activity itself)."""
    scope = state.scopes.get(token.scope)
    return scope is not None and scope.mi is not None and "i" in scope.mi and scope.node == token.node


def begin(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    spec = node.multi_instance
    assert spec is not None
    context = walk.context(token)
    items: list[Any] | None = None
    if spec.collection:
        value = walk.d.evaluate(spec.collection, context)
        if not isinstance(value, list):
            raise EngineIncident(
                "multi-instance {node}: collection {text!r} is not a list", node=node.id, text=spec.collection
            )
        items, total = value, len(value)
    else:
        total = as_count(walk.d.evaluate(spec.cardinality or "0", context))
    walk.history(node, "start")
    token.wait = Wait.SCOPE
    token.activation = walk.state.activate(node.id)
    body = Scope(walk.state.new_id(), token.scope, token.id, node.id)
    body.mi = {"total": total, "next": 0, "done": 0, "items": items}
    if spec.output_collection:
        body.mi["out"] = [None] * total
    walk.state.scopes[body.id] = body
    token.child = body.id
    if total == 0:
        _finish(walk, token, node, body)
        return
    arm_boundaries(walk, token, node)
    for _ in range(1 if spec.sequential else total):
        _launch(walk, body, node)


def _launch(walk: Interpreter, body: Scope, node: NodeSpec) -> None:
    assert body.mi is not None
    assert node.multi_instance is not None
    index = body.mi["next"]
    body.mi["next"] = index + 1
    local: dict[str, Any] = {"loopCounter": index + 1}
    items = body.mi["items"]
    if node.multi_instance.element_variable:
        local[node.multi_instance.element_variable] = items[index] if items is not None else None
    one = Scope(walk.state.new_id(), body.id, body.owner, node.id, local, {"i": index})
    walk.state.scopes[one.id] = one
    walk.state.tokens.append(Token(walk.state.new_id(), node.id, one.id))


def body_done(walk: Interpreter, token: Token, node: NodeSpec) -> None:
    """One instance finished: gather its output, then finish, launch the next, or wait."""
    spec = node.multi_instance
    assert spec is not None
    one = walk.state.scopes[token.scope]
    body = walk.state.scopes[one.parent]
    assert one.mi is not None
    assert body.mi is not None
    if spec.output_element and "out" in body.mi:
        body.mi["out"][one.mi["i"]] = walk.d.evaluate(spec.output_element, walk.context(token))
    walk.state.tokens.remove(token)
    del walk.state.scopes[one.id]
    body.mi["done"] += 1
    owner = walk.state.token(body.owner)
    assert owner is not None
    done, total = body.mi["done"], body.mi["total"]
    active = sum(1 for s in walk.state.scopes.values() if s.parent == body.id)
    finished = done >= total
    if not finished and spec.completion_condition:
        context = walk.context(owner) | {
            "nrOfInstances": total,
            "nrOfCompletedInstances": done,
            "nrOfActiveInstances": active,
        }
        finished = walk.d.is_true(spec.completion_condition, context)
    if finished:
        _finish(walk, owner, node, body)
    elif spec.sequential:
        _launch(walk, body, node)


def _finish(walk: Interpreter, owner: Token, node: NodeSpec, body: Scope) -> None:
    assert body.mi is not None
    assert node.multi_instance is not None
    outputs = body.mi.get("out")
    cancel_scope(walk, body.id)
    if node.multi_instance.output_collection:
        walk.set_variable(owner, node.multi_instance.output_collection, outputs or [])
    walk.history(node, "complete")
    walk.move(owner, node, walk.enabled_flows(owner, node))
