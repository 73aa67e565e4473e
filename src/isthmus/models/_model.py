"""A parsed BPMN file: the specs to run and check, and the XML tree to export unchanged."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping

from lxml import etree

from isthmus.errors import InvalidInput, Location, NotFound
from isthmus.models._reader import BPMN_NS, Definitions, read_definitions
from isthmus.models._specs import ProcessSpec, RefSpec
from isthmus.models._xml import (
    declared_encoding,
    declared_standalone,
    has_declaration,
    line_of,
    local_name,
    namespace_of,
    parse_document,
    serialize,
)


class BpmnModel:
    """One ``<definitions>``: its processes as immutable specs, and the document for a lossless export.

    Two models are equal when their XML is; ``content_hash`` is the SHA-256 of the bytes parsed.

    Example:
        >>> model = parse_bpmn(open("tests/data/bpmn/approval.bpmn", "rb").read())  # doctest: +SKIP
        >>> model.process("approval").nodes["review"].props.candidate_groups  # doctest: +SKIP
        ('managers',)
    """

    __slots__ = ("_data", "_definitions", "_encoding", "_standalone", "_tree", "content_hash", "source")

    def __init__(
        self,
        tree: etree._ElementTree,
        definitions: Definitions,
        *,
        data: bytes,
        content_hash: str,
        encoding: str = "UTF-8",
        standalone: bool | None = None,
        source: str | None = None,
    ) -> None:
        self._tree = tree
        self._data = data
        self._definitions = definitions
        self._encoding = encoding
        self._standalone = standalone
        self.content_hash = content_hash
        self.source = source

    @property
    def id(self) -> str:
        return self._definitions.id

    @property
    def name(self) -> str:
        return self._definitions.name

    @property
    def processes(self) -> tuple[ProcessSpec, ...]:
        return self._definitions.processes

    @property
    def executable_processes(self) -> tuple[ProcessSpec, ...]:
        return tuple(p for p in self.processes if p.is_executable)

    @property
    def messages(self) -> Mapping[str, RefSpec]:
        return self._definitions.messages

    @property
    def signals(self) -> Mapping[str, RefSpec]:
        return self._definitions.signals

    @property
    def errors(self) -> Mapping[str, RefSpec]:
        return self._definitions.errors

    @property
    def escalations(self) -> Mapping[str, RefSpec]:
        return self._definitions.escalations

    @property
    def participants(self) -> Mapping[str, str]:
        """process id → the name of its pool (participant)."""
        return self._definitions.participants

    @property
    def encoding(self) -> str:
        """The encoding the file declared (``to_xml`` writes the same)."""
        return self._encoding

    @property
    def reader_problems(self) -> tuple[tuple[int, str], ...]:
        """Values the reader could not use, as (line, message); the validator reports them."""
        return self._definitions.problems

    def process(self, process_id: str) -> ProcessSpec:
        """The process with this id; ``NotFound`` names the ones there are."""
        for process in self.processes:
            if process.id == process_id:
                return process
        raise NotFound(
            "no process {process_id!r} in this model; it has {known}",
            process_id=process_id,
            known=", ".join(p.id for p in self.processes) or "none",
        )

    def to_xml(self) -> bytes:
        """The document as read: same elements, attributes, namespaces, comments, DI and encoding.

        A model never changes after parsing, so this is the very bytes that were parsed — the
        export hashes like the upload, and deploying it again is a no-op.
        """
        return self._data

    def serialize(self) -> bytes:
        """The document re-serialised from the tree (same content as :meth:`to_xml`, normalised
        quoting and empty-element syntax); what an export of an edited tree would write."""
        return serialize(
            self._tree,
            encoding=self._encoding,
            standalone=self._standalone,
            declaration=has_declaration(self._data),
        )

    def tree(self) -> etree._ElementTree:
        """A private copy of the document, to edit and parse again (the model stays unchanged)."""
        return etree.ElementTree(copy.deepcopy(self._tree.getroot()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BpmnModel) and self.to_xml() == other.to_xml()

    def __hash__(self) -> int:
        return hash(self.to_xml())

    def __repr__(self) -> str:
        return f"<BpmnModel {self.id or self.name!r} processes={[p.id for p in self.processes]}>"


def content_hash(data: bytes) -> str:
    """SHA-256 (hex) of the file's bytes: the same upload twice has the same hash."""
    return hashlib.sha256(data).hexdigest()


def parse_bpmn(data: bytes, *, source: str | None = None) -> BpmnModel:
    """Parse a BPMN 2.0 file into a :class:`BpmnModel`.

    Any process parses, executable or not; checking what would run is :func:`validate`'s job.

    Raises:
        PayloadTooLarge: past the size limit (20 MiB).
        SyntaxProblem: not well-formed XML (with line and column).
        InvalidInput: a DOCTYPE, or the root is not a BPMN ``<definitions>``.
    """
    tree = parse_document(data, source=source)
    root = tree.getroot()
    if local_name(root) != "definitions" or namespace_of(root) != BPMN_NS:
        raise InvalidInput(
            "not a BPMN 2.0 file: the root element is {tag!r}, expected <definitions> in {namespace}",
            location=Location(file=source, line=line_of(root)),
            tag=str(root.tag),
            namespace=BPMN_NS,
        )
    return BpmnModel(
        tree,
        read_definitions(root),
        data=data,
        content_hash=content_hash(data),
        encoding=declared_encoding(tree),
        standalone=declared_standalone(data),
        source=source,
    )
