"""A BPMN file as deployable product objects: one definition per executable process.

A *process definition* is stored under its *key* — the ``<process id>`` — in numbered, immutable
versions. Deploying a file stores every executable process in it (each row keeps the whole file, so
an export gives the diagram back); saving a draft stores the file under its main process without
requiring it to be valid. :func:`prepare_deployment` checks a file the way deploying must.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from isthmus.errors import InvalidInput, Location

from ._model import BpmnModel, parse_bpmn
from ._specs import ProcessSpec
from ._validation import ModelProblem, errors_of, validate

KEY_MAX_LENGTH = 100
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class ProcessDraft:
    """A checked file, ready to be stored as the next version of ``key``."""

    key: str
    name: str
    content: bytes
    content_hash: str
    filename: str
    draft: bool = False


@dataclass(frozen=True, slots=True)
class DeployedProcess:
    """One stored version of a process definition (``draft`` versions are saved, never run)."""

    key: str
    version: int
    name: str
    content: bytes
    content_hash: str
    filename: str
    deployment_id: str
    deployed_at: datetime
    deployed_by: str
    draft: bool = False

    def summary(self) -> dict[str, Any]:
        """Everything but the XML, as JSON data."""
        return {
            "key": self.key,
            "version": self.version,
            "name": self.name,
            "hash": self.content_hash,
            "filename": self.filename,
            "deployment_id": self.deployment_id,
            "deployed_at": self.deployed_at.isoformat(),
            "deployed_by": self.deployed_by,
            "draft": self.draft,
        }


class InvalidModel(InvalidInput):
    """A model that validation refused; ``problems`` lists every finding (errors and warnings)."""

    code = "invalid_model"
    title = "Invalid process model"

    def __init__(self, filename: str, problems: list[ModelProblem]) -> None:
        self.problems = problems
        errors = errors_of(problems)
        super().__init__(
            "{count} problem(s) refuse this model: {first}",
            location=Location(file=filename),
            details=[
                InvalidInput(p.message, location=Location(file=filename, line=p.line, field=p.element_id))
                for p in errors
            ],
            count=len(errors),
            first=errors[0].describe(filename) if errors else "",
        )


def check_key(key: str) -> str:
    if not (_KEY.match(key) and len(key) <= KEY_MAX_LENGTH):
        raise InvalidInput(
            "process id {key!r} cannot be a key: use letters, digits, '_', '.', '-' (at most {limit})",
            key=key,
            limit=KEY_MAX_LENGTH,
        )
    return key


def prepare_deployment(
    content: bytes, filename: str
) -> tuple[list[ProcessDraft], BpmnModel, list[ModelProblem]]:
    """Parse and validate ``content``; one draft per executable process, and the warnings.

    Raises:
        SyntaxProblem / InvalidInput: not a readable BPMN file.
        InvalidModel: validation found errors (all problems attached).
        InvalidInput: no executable process to deploy.
    """
    model = parse_bpmn(content, source=filename)
    problems = validate(model)
    if errors_of(problems):
        raise InvalidModel(filename, problems)
    executable = model.executable_processes
    if not executable:
        raise InvalidInput(
            'nothing to deploy: no process is marked isExecutable="true"', location=Location(file=filename)
        )
    drafts = [_draft(process, model, filename, draft=False) for process in executable]
    return drafts, model, problems


def prepare_draft(content: bytes, filename: str) -> tuple[ProcessDraft, BpmnModel, list[ModelProblem]]:
    """A draft of the file's main process (the first executable one, else the first): it must parse,
    need not be valid; the problems come back for the editor to show."""
    model = parse_bpmn(content, source=filename)
    if not model.processes:
        raise InvalidInput("the file has no <process>", location=Location(file=filename))
    main = (model.executable_processes or model.processes)[0]
    return _draft(main, model, filename, draft=True), model, validate(model)


def _draft(process: ProcessSpec, model: BpmnModel, filename: str, *, draft: bool) -> ProcessDraft:
    return ProcessDraft(
        key=check_key(process.id),
        name=process.name or model.name or process.id,
        content=model.to_xml(),
        content_hash=model.content_hash,
        filename=filename,
        draft=draft,
    )
