"""Hardened XML in, the same XML out: reading untrusted BPMN and writing it back losslessly.

Reading follows OWASP's advice for XML from strangers: lxml never resolves entities, never touches
the network, keeps its size limits (``huge_tree=False``), and a DOCTYPE is refused outright — BPMN
has no use for one, and refusing it is the clearest answer to XXE and "billion laughs". Comments,
processing instructions and whitespace are *kept*: export serialises the very tree that was read,
with its original encoding declaration, so diagrams (BPMN DI), vendor extensions and namespace
prefixes survive a round trip.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from lxml import etree

from isthmus.hardened_xml import parse_untrusted

#: Larger than any real model (the biggest MIWG reference is 240 kB); bounds memory per upload.
MAX_BYTES = 20 * 1024 * 1024

Element = etree._Element
_STANDALONE = re.compile(rb"""^\s*<\?xml[^>]*?standalone\s*=\s*["'](yes|no)["']""")


def local_name(element: Element) -> str:
    """The tag without its namespace; "" for comments and processing instructions."""
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def namespace_of(element: Element) -> str | None:
    tag = element.tag
    return etree.QName(tag).namespace if isinstance(tag, str) else None


def line_of(element: Element) -> int:
    line: object = getattr(element, "sourceline", None)  # lxml-stubs mistype it
    return line if isinstance(line, int) else 0


def elements(parent: Element, name: str | None = None) -> Iterator[Element]:
    """The child elements of ``parent`` (comments skipped), optionally those with local name ``name``."""
    for child in parent:
        if isinstance(child.tag, str) and (name is None or local_name(child) == name):
            yield child


def text_of(element: Element) -> str:
    """All the text inside ``element`` (its own and its descendants'), concatenated."""
    return "".join(str(t) for t in element.itertext())


def parse_document(data: bytes, *, source: str | None = None) -> etree._ElementTree:
    """Parse untrusted XML safely and completely (comments and whitespace kept).

    Raises:
        PayloadTooLarge: more than :data:`MAX_BYTES`.
        InvalidInput: a DOCTYPE declaration.
        SyntaxProblem: not well-formed XML, with line and column.
    """
    return parse_untrusted(data, source=source, max_bytes=MAX_BYTES, keep_comments=True)


def declared_encoding(tree: etree._ElementTree) -> str:
    """The encoding the document declared, or the one its bytes were detected in (UTF-8 by default)."""
    return tree.docinfo.encoding or "UTF-8"


def has_declaration(data: bytes) -> bool:
    """Whether the document starts with an XML declaration (after an optional BOM)."""
    return data.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml") or data[:2] in (b"\xff\xfe", b"\xfe\xff")


def declared_standalone(data: bytes) -> bool | None:
    """``standalone`` of the XML declaration; None when not declared (lxml cannot tell that apart)."""
    found = _STANDALONE.match(data[:300].lstrip(b"\xef\xbb\xbf"))
    return None if found is None else found.group(1) == b"yes"


def serialize(
    tree: etree._ElementTree,
    *,
    encoding: str = "UTF-8",
    standalone: bool | None = None,
    declaration: bool = True,
) -> bytes:
    """The document as bytes in ``encoding``, with an XML declaration; nothing dropped or reordered.

    Characters the encoding cannot hold (a ``&#8364;`` read from an ISO-8859-1 file) are written back
    as character references; an encoding Python does not know falls back to UTF-8.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "UTF-8"
    text = etree.tostring(tree, encoding="unicode")
    flag = "" if standalone is None else f' standalone="{"yes" if standalone else "no"}"'
    head = (
        f'<?xml version="1.0" encoding="{encoding}"{flag}?>\n'
        if declaration or encoding.upper() != "UTF-8"
        else ""
    )
    document = head + text
    return (document if document.endswith("\n") else document + "\n").encode(encoding, "xmlcharrefreplace")


def canonical(data: bytes) -> bytes:
    """A canonical form for comparing two documents by meaning, not by bytes.

    Exclusive C14N 2.0 (attribute order, quoting, namespace declarations and the encoding stop
    mattering), comments kept, and whitespace-only text dropped (indentation is not content).
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
    root = etree.fromstring(data, parser)
    for element in root.iter():
        if element.text is not None and not element.text.strip() and len(element):
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    text: str = etree.canonicalize(root, with_comments=True, strip_text=True)
    return text.encode("utf-8")


def same_document(left: bytes, right: bytes) -> bool:
    """Whether two XML documents hold the same elements, attributes, text and comments."""
    return canonical(left) == canonical(right)
