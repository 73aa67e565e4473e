"""OCEL 2.0 (JSON and XML) flattened on one object type, the way pm4py's ``ocel_flattening`` does:
every event related to an object of that type becomes one event of the case named by the object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from lxml import etree

from isthmus.errors import InvalidInput, Location, SyntaxProblem
from isthmus.mining._schema import ACTIVITY, CASE, INDEX, INDEX_TYPE, TIMESTAMP, normalise
from isthmus.mining._timestamps import parse_timestamps

Event = tuple[str, str, str, dict[str, Any], list[str]]  # id, type, time, attributes, object ids


def read_ocel(path: Path, object_type: str | None) -> pl.DataFrame:
    """Flatten the OCEL 2.0 file at ``path`` on ``object_type`` (required when it has several)."""
    name = path.name
    if path.suffix.lower() == ".xml" or path.name.lower().endswith(".xmlocel"):
        types, events = _xml(path)
    else:
        types, events = _json(path)
    known = sorted(set(types.values()))
    if object_type is None:
        if len(known) != 1:
            raise InvalidInput(
                "OCEL: choose the object type to flatten on (--object-type); the file has {known}",
                location=Location(file=name),
                known=", ".join(known),
            )
        object_type = known[0]
    if object_type not in known:
        raise InvalidInput(
            "OCEL: no object type {type!r}; the file has {known}",
            location=Location(file=name),
            type=object_type,
            known=", ".join(known),
        )
    rows: dict[str, list[Any]] = {CASE: [], ACTIVITY: [], TIMESTAMP: [], "ocel:eid": []}
    attributes: dict[str, list[Any]] = {}
    for eid, kind, time, attrs, objects in events:
        for oid in objects:
            if types.get(oid) != object_type:
                continue
            rows[CASE].append(oid)
            rows[ACTIVITY].append(kind)
            rows[TIMESTAMP].append(time)
            rows["ocel:eid"].append(eid)
            for key, value in attrs.items():
                attributes.setdefault(key, [None] * (len(rows[CASE]) - 1)).append(value)
            for column in attributes.values():
                if len(column) < len(rows[CASE]):
                    column.append(None)
    if not rows[CASE]:
        raise InvalidInput(
            "OCEL: no event relates to a {type}", location=Location(file=name), type=object_type
        )
    frame = pl.DataFrame(
        {k: pl.Series(k, v, dtype=pl.String) for k, v in (rows | attributes).items()}
    ).with_columns(pl.int_range(pl.len(), dtype=INDEX_TYPE).alias(INDEX))
    stamps = parse_timestamps(frame[TIMESTAMP], file=name, column="time", first_line=1)
    # pm4py sorts OCEL events by time (stable) before flattening.
    return normalise(frame.with_columns(stamps.alias(TIMESTAMP)).sort(TIMESTAMP, INDEX, maintain_order=True))


def _json(path: Path) -> tuple[dict[str, str], list[Event]]:
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise SyntaxProblem(
            "not JSON: {reason}",
            location=Location(file=path.name, line=exc.lineno, column=exc.colno),
            reason=exc.msg,
        ) from None
    if not isinstance(data, dict) or "events" not in data or "objects" not in data:
        raise InvalidInput("not an OCEL 2.0 JSON file (no events/objects)", location=Location(file=path.name))
    types = {str(o["id"]): str(o["type"]) for o in data["objects"]}
    events: list[Event] = []
    for e in data["events"]:
        attrs = {str(a["name"]): a.get("value") for a in e.get("attributes") or []}
        objects = [str(r["objectId"]) for r in e.get("relationships") or []]
        events.append((str(e["id"]), str(e["type"]), str(e["time"]), attrs, objects))
    return types, events


def _xml(path: Path) -> tuple[dict[str, str], list[Event]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (None, None)
        raise SyntaxProblem(
            "not well-formed XML: {reason}",
            location=Location(file=path.name, line=line, column=col),
            reason=exc.msg,
        ) from None
    types = {o.get("id", ""): o.get("type", "") for o in root.iter("object")}
    events: list[Event] = []
    for e in root.iter("event"):
        attrs = {a.get("name", ""): a.text for a in e.iter("attribute")}
        objects = [r.get("object-id", "") for r in e.iter("relationship")]
        events.append((e.get("id", ""), e.get("type", ""), e.get("time", ""), attrs, objects))
    return types, events
