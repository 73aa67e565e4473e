"""A DMN file as a deployable product object: its key, content hash and the decisions it offers.

Deploying stores the XML under a *key* (the ``<definitions id>``, else a slug of the file name) in
numbered versions; :func:`prepare_model` checks a file the way deploying must — parse it and build
a :class:`DecisionEngine`, so a model that cannot run is refused before anything is stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import PurePath
from typing import Any

from isthmus.errors import InvalidInput, Location

from . import _model as m
from ._dmn_xml import parse_dmn
from ._engine import DecisionEngine

KEY_MAX_LENGTH = 100
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class DecisionKind(StrEnum):
    DECISION = "decision"
    SERVICE = "decision_service"


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """An input data a decision needs (directly or through the decisions it requires)."""

    name: str
    type_ref: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type_ref}


@dataclass(frozen=True, slots=True)
class DecisionInfo:
    """One evaluable element of a model: a decision or a decision service, with its inputs."""

    id: str
    name: str
    kind: DecisionKind = DecisionKind.DECISION
    inputs: tuple[DecisionInput, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "inputs": [i.as_dict() for i in self.inputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionInfo:
        inputs = tuple(DecisionInput(str(i["name"]), i.get("type")) for i in data.get("inputs", ()))
        return cls(str(data["id"]), str(data["name"]), DecisionKind(data.get("kind", "decision")), inputs)


@dataclass(frozen=True, slots=True)
class ModelDraft:
    """A checked DMN file, ready to be stored as the next version of ``key``."""

    key: str
    name: str
    namespace: str
    content: str
    content_hash: str
    decisions: tuple[DecisionInfo, ...]


@dataclass(frozen=True, slots=True)
class DeployedModel:
    """One stored version of a decision model. Versions are immutable; a new upload is a new version."""

    key: str
    version: int
    name: str
    namespace: str
    content: str
    content_hash: str
    decisions: tuple[DecisionInfo, ...]
    deployed_at: datetime
    deployed_by: str

    def find(self, decision: str) -> DecisionInfo | None:
        """The decision or service with this id, else this name (ids are unique, so they win)."""
        by_id = next((d for d in self.decisions if d.id == decision), None)
        return by_id or next((d for d in self.decisions if d.name == decision), None)

    def summary(self) -> dict[str, Any]:
        """Everything but the XML, as JSON data."""
        return {
            "key": self.key,
            "version": self.version,
            "name": self.name,
            "namespace": self.namespace,
            "hash": self.content_hash,
            "decisions": [d.as_dict() for d in self.decisions],
            "deployed_at": self.deployed_at.isoformat(),
            "deployed_by": self.deployed_by,
        }


def content_hash(content: str) -> str:
    """SHA-256 of the UTF-8 text: two uploads of the same model have the same hash."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def model_key(definitions: m.Definitions, filename: str) -> str:
    """The ``<definitions id>``, else a slug of the file name (``Tiered Approval.dmn`` → ``tiered-approval``)."""
    if definitions.id and _KEY.match(definitions.id) and len(definitions.id) <= KEY_MAX_LENGTH:
        return definitions.id
    stem = PurePath(filename.replace("\\", "/")).stem
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:KEY_MAX_LENGTH].strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"model-{slug}" if slug else "model"
    return slug[:KEY_MAX_LENGTH]


def prepare_model(content: bytes, filename: str) -> tuple[ModelDraft, DecisionEngine]:
    """Check ``content`` as deploying needs and describe it; the engine is ready to evaluate.

    Raises:
        SyntaxProblem: malformed XML (with the line).
        InvalidInput: not UTF-8, not DMN, a broken reference or a requirement cycle.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "a DMN file must be UTF-8; byte {position} is not",
            location=Location(file=filename),
            position=exc.start,
        ) from None
    definitions = parse_dmn(text, source=filename)
    engine = DecisionEngine([definitions])
    draft = ModelDraft(
        key=model_key(definitions, filename),
        name=definitions.name,
        namespace=definitions.namespace,
        content=text,
        content_hash=content_hash(text),
        decisions=describe_decisions(definitions),
    )
    return draft, engine


def describe_decisions(definitions: m.Definitions) -> tuple[DecisionInfo, ...]:
    """The decisions, then the decision services, each with the input data it reads."""
    by_id = {e.id: e for e in definitions.elements}
    found: list[DecisionInfo] = []
    for element in definitions.elements:
        if isinstance(element, m.Decision):
            found.append(DecisionInfo(element.id, element.name, inputs=_inputs_of(element, by_id)))
    for element in definitions.elements:
        if isinstance(element, m.DecisionService):
            params = [by_id.get(h.id) for h in (*element.input_data, *element.input_decisions)]
            inputs = tuple(DecisionInput(p.name, _type_ref(p)) for p in params if p is not None)
            found.append(DecisionInfo(element.id, element.name, DecisionKind.SERVICE, inputs))
    return tuple(found)


def _inputs_of(decision: m.Decision, by_id: Mapping[str, m.DrgElement]) -> tuple[DecisionInput, ...]:
    """Input data required by ``decision`` and, transitively, by the decisions it requires."""
    inputs: dict[str, DecisionInput] = {}
    pending, seen = [decision], {decision.id}
    while pending:
        current = pending.pop()
        for href in current.required_inputs:
            element = by_id.get(href.id)
            if isinstance(element, m.InputData):
                inputs.setdefault(element.name, DecisionInput(element.name, element.type_ref))
        for href in current.required_decisions:
            required = by_id.get(href.id)
            if isinstance(required, m.Decision) and required.id not in seen:
                seen.add(required.id)
                pending.append(required)
    return tuple(sorted(inputs.values(), key=lambda i: i.name))


def _type_ref(element: m.DrgElement) -> str | None:
    return element.type_ref if isinstance(element, m.InputData | m.Decision) else None
