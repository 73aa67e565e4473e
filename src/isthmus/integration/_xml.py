"""JSON → XML for targets that want XML (the guide: "JSON order → the XML the ERP needs")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree


def _fill(parent: etree._Element, value: Any, item_name: str) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _fill(etree.SubElement(parent, str(key)), inner, item_name)
    elif isinstance(value, list | tuple):
        for inner in value:
            _fill(etree.SubElement(parent, item_name), inner, item_name)
    elif value is not None:
        parent.text = str(value).lower() if isinstance(value, bool) else str(value)


def to_xml(payload: Mapping[str, Any], *, root: str = "record", item: str = "item") -> bytes:
    """``{"vbeln": "SO-1"}`` → ``<Order><vbeln>SO-1</vbeln></Order>`` with ``root="Order"``; list
    entries become ``item`` elements.

    Example:
        >>> to_xml({"vbeln": "SO-1", "lines": [1, 2]}, root="Order", item="line")
        b"<?xml version='1.0' encoding='UTF-8'?>\\n<Order><vbeln>SO-1</vbeln><lines><line>1</line><line>2</line></lines></Order>"
    """
    element = etree.Element(root)
    _fill(element, payload, item)
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))
