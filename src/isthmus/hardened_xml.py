"""Parsing untrusted XML (BPMN, DMN, XES …) without XXE, entity expansion or network access.

One place for the rules, because every model file a person uploads is untrusted: DOCTYPE
declarations are refused before parsing (so no entity is ever declared, let alone expanded), lxml
runs with entity resolution, DTD loading and the network off, and the size is bounded.
"""

from __future__ import annotations

import re

from lxml import etree

from isthmus.errors import InvalidInput, Location, PayloadTooLarge, SyntaxProblem

_DOCTYPE_REFUSED = "a DOCTYPE declaration is not allowed (entities are never expanded)"


def parse_untrusted(
    data: bytes, *, source: str | None, max_bytes: int, keep_comments: bool
) -> etree._ElementTree:
    """Parse ``data``; ``keep_comments`` keeps comments, PIs, CDATA and blank text (lossless export).

    Raises:
        PayloadTooLarge: more than ``max_bytes``.
        InvalidInput: a DOCTYPE declaration.
        SyntaxProblem: not well-formed XML, with line and column.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            "the file is larger than {limit} bytes", location=Location(file=source), limit=max_bytes
        )
    doctype = data.find(b"<!DOCTYPE")
    if doctype >= 0:
        raise InvalidInput(
            _DOCTYPE_REFUSED, location=Location(file=source, line=data.count(b"\n", 0, doctype) + 1)
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=not keep_comments,
        remove_pis=not keep_comments,
        remove_blank_text=False,
        strip_cdata=not keep_comments,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (None, None)
        raise SyntaxProblem(
            "not well-formed XML: {reason}",
            location=Location(file=source, line=line, column=column),
            reason=re.sub(r", line \d+, column \d+$", "", str(exc.msg or exc)),
        ) from None
    tree = root.getroottree()
    # A DOCTYPE in an encoding the byte search above cannot see (UTF-16) is caught here.
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise InvalidInput(_DOCTYPE_REFUSED, location=Location(file=source, line=1))
    return tree
