"""Flow definitions: a YAML document → an immutable, validated :class:`FlowDefinition`.

Every problem names its line and field (``crm-erp.yaml, line 12, field 'mapping.vbeln'``); all
problems of a file are reported at once as the ``details`` of one ``InvalidInput``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from isthmus.errors import InvalidInput, IsthmusError, Location
from isthmus.feel import FeelSyntaxError, compile_expression
from isthmus.integration._cleansing import parse_cleanse
from isthmus.integration._schedule import CronError, CronSchedule, Trigger, TriggerKind
from isthmus.integration._yaml import LineMap, load_yaml
from isthmus.jobs import RetryPolicy
from isthmus.quality import Rule as CleansingRule

FLOW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$")
_E = TypeVar("_E", bound=StrEnum)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class Direction(StrEnum):
    ONE_WAY = "→"
    BOTH = "↔"


class MaskKind(StrEnum):
    PHONE = "phone"
    ID_NUMBER = "id_number"
    NAME = "name"


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a flow: the system's name, the connector kind and its options."""

    system: str
    connector: str
    options: dict[str, Any] = field(default_factory=dict)
    test_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transform:
    """Applied to one output field after mapping: a type, then a mask."""

    field: str
    type: FieldType | None = None
    mask: MaskKind | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A FEEL validation rule over the source record; a record failing it is dead-lettered."""

    expression: str
    message: str


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Default 1 try + 3 retries, 2 s × 2 with ±20 % jitter, 10 s per attempt; 4xx never retried."""

    max_attempts: int = 4
    base_delay_s: float = 2.0
    factor: float = 2.0
    max_delay_s: float = 3600.0
    jitter: float = 0.2
    timeout_s: float = 10.0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            base_delay_s=self.base_delay_s,
            factor=self.factor,
            max_delay_s=self.max_delay_s,
            jitter=self.jitter,
        )


@dataclass(frozen=True, slots=True)
class FlowDefinition:
    """One row of the guide's table 2, executable."""

    id: str
    name: str
    source: Endpoint
    target: Endpoint
    trigger: Trigger
    mapping: dict[str, str]
    idempotency_key: str
    code_tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    transforms: tuple[Transform, ...] = ()
    rules: tuple[Rule, ...] = ()
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    direction: Direction = Direction.ONE_WAY
    owner: str = ""
    security: str = ""
    go_live: date | None = None
    chunk_rows: int = 50_000
    text: str = ""
    cleanse: tuple[CleansingRule, ...] = ()  # quality rules run before the mapping (_cleansing.py)


class _Problems:
    """Collects every problem of one file with its line and dotted field name."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.found: list[IsthmusError] = []

    def add(self, node: LineMap, key: str, path: str, template: str, **params: Any) -> None:
        where = Location(file=self.file, line=node.line_of(key), field=path)
        self.found.append(InvalidInput(template, location=where, **params))


def parse_duration(value: Any) -> float | None:
    """``30s``, ``500ms``, ``5m``, ``1h`` or a number of seconds → seconds; None when unreadable."""
    match = _DURATION.match(str(value).strip())
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _section(doc: LineMap, key: str, problems: _Problems, *, required: bool = True) -> LineMap:
    value = doc.get(key)
    if isinstance(value, LineMap):
        return value
    if value is not None or required:
        problems.add(doc, key, key, "expected a mapping")
    empty = LineMap()
    empty.lines, empty.start_line = {}, doc.line_of(key)
    return empty


def _text(node: LineMap, key: str, path: str, problems: _Problems, *, default: str | None = None) -> str:
    value = node.get(key, default)
    if value is None or (isinstance(value, dict | list)):
        problems.add(node, key, path, "expected a text")
        return ""
    return str(value)


def _check_feel(node: LineMap, key: str, path: str, text: str, problems: _Problems) -> None:
    try:
        compile_expression(text)
    except FeelSyntaxError as exc:
        problems.add(node, key, path, "FEEL: {error}", error=exc.message)


# The connector kinds a flow may name (the adapters in ``isthmus.adapters.connectors`` implement
# them; the registry there refuses a kind missing here). Sources are pushed (webhook) or pulled.
SOURCE_KINDS = ("files", "jsonrpc", "sql", "webhook", "xmlrpc")
TARGET_KINDS = ("files", "http", "jsonrpc", "soap", "sql", "xmlrpc")
PULLED_SOURCES = frozenset({"files", "jsonrpc", "sql", "xmlrpc"})
# Options a kind cannot work without that only the flow can say (addresses and credentials may
# come from the systems registry instead), and the closed choices of some options.
_REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("target", "jsonrpc"): ("method",),
    ("target", "xmlrpc"): ("method",),
    ("target", "soap"): ("operation",),
    ("source", "jsonrpc"): ("model",),
    ("source", "xmlrpc"): ("model",),
}
_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "jsonrpc": {"params": ("named", "positional"), "auth": ("none", "basic", "odoo", "tryton")},
    "xmlrpc": {"params": ("named", "positional"), "auth": ("none", "basic", "odoo", "tryton")},
    "soap": {"version": ("1.1", "1.2"), "auth": ("none", "basic")},
}


def _check_connector(node: LineMap, key: str, endpoint: Endpoint, problems: _Problems) -> None:
    """The kind is known for this side, the options it needs are there, closed choices hold."""
    kinds = SOURCE_KINDS if key == "source" else TARGET_KINDS
    kind = endpoint.connector
    if not kind:
        return  # already reported as a missing text
    if kind not in kinds:
        problems.add(
            node,
            "connector",
            f"{key}.connector",
            "expected one of {kinds}, got {kind!r}",
            kinds=", ".join(kinds),
            kind=kind,
        )
        return
    options = node.get("options")
    where = options if isinstance(options, LineMap) else node
    for name in _REQUIRED.get((key, kind), ()):
        if not str(endpoint.options.get(name, "")).strip():
            problems.add(
                where if name in where else node,
                name if name in where else "options",
                f"{key}.options.{name}",
                "a {kind} {side} needs {option}",
                kind=kind,
                side=key,
                option=name,
            )
    if kind == "files":
        _check_text_file_options(where, key, endpoint.options, problems)
    for name, allowed in _CHOICES.get(kind, {}).items():
        if name in endpoint.options and str(endpoint.options[name]) not in allowed:
            problems.add(
                where,
                name,
                f"{key}.options.{name}",
                "expected one of {allowed}, got {value!r}",
                allowed=", ".join(allowed),
                value=endpoint.options[name],
            )


def _check_text_file_options(where: LineMap, key: str, options: dict[str, Any], problems: _Problems) -> None:
    """A CSV delimiter is one character and the encoding one Python knows (gb18030, utf-8-sig …),
    refused when the flow is checked rather than at the first file hours later."""
    delimiter = options.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        problems.add(
            where,
            "delimiter",
            f"{key}.options.delimiter",
            "expected one character, got {value!r}",
            value=delimiter,
        )
    encoding = options.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            problems.add(
                where,
                "encoding",
                f"{key}.options.encoding",
                "expected a known encoding such as utf-8 or gb18030, got {value!r}",
                value=encoding,
            )


def _endpoint(doc: LineMap, key: str, problems: _Problems) -> Endpoint:
    node = _section(doc, key, problems)
    options = node.get("options") or {}
    test = node.get("test") or {}
    if not isinstance(options, dict):
        problems.add(node, "options", f"{key}.options", "expected a mapping")
        options = {}
    if not isinstance(test, dict):
        problems.add(node, "test", f"{key}.test", "expected a mapping")
        test = {}
    endpoint = Endpoint(
        system=_text(node, "system", f"{key}.system", problems),
        connector=_text(node, "connector", f"{key}.connector", problems),
        options=dict(options),
        test_options=dict(test),
    )
    _check_connector(node, key, endpoint, problems)
    return endpoint


def _trigger(doc: LineMap, problems: _Problems, source_kind: str = "") -> Trigger:
    node = _section(doc, "trigger", problems, required=False)
    scheduled = next((k for k in ("poll", "cron") if k in node), None)
    if scheduled and source_kind == "webhook":
        problems.add(
            node,
            scheduled,
            f"trigger.{scheduled}",
            "a webhook source is pushed, not pulled; a {trigger} trigger needs one of {kinds}",
            trigger=scheduled,
            kinds=", ".join(sorted(PULLED_SOURCES)),
        )
    if "webhook" in node:
        return Trigger(TriggerKind.WEBHOOK)
    if "poll" in node:
        seconds = parse_duration(node["poll"])
        if seconds is None or seconds <= 0:
            problems.add(node, "poll", "trigger.poll", "expected a duration such as 30s or 5m")
        return Trigger(TriggerKind.POLL, interval_s=seconds or 60.0)
    if "cron" in node:
        try:
            schedule = CronSchedule.parse(str(node["cron"]), str(node.get("timezone", "Asia/Shanghai")))
        except CronError as exc:
            problems.add(node, "cron", "trigger.cron", "cron: {error}", error=str(exc))
            return Trigger(TriggerKind.MANUAL)
        return Trigger(TriggerKind.CRON, cron=schedule)
    return Trigger(TriggerKind.MANUAL)


def _mapping(doc: LineMap, problems: _Problems, tables: dict[str, dict[str, Any]]) -> dict[str, str]:
    node = _section(doc, "mapping", problems)
    mapping: dict[str, str] = {}
    for target, expression in node.items():
        text = str(expression)
        mapping[target] = text
        if not _lookup_parts(text, tables):
            _check_feel(node, target, f"mapping.{target}", text, problems)
    if not mapping:
        problems.add(doc, "mapping", "mapping", "expected at least one field")
    return mapping


_LOOKUP = re.compile(r"^\s*([A-Za-z_][\w]*)\s*\[\s*([A-Za-z_][\w]*)\s*\]\s*$")


def _lookup_parts(text: str, tables: dict[str, dict[str, Any]]) -> tuple[str, str] | None:
    """``codes[dept_name]`` where ``codes`` is a code table: a lookup, not a FEEL filter."""
    match = _LOOKUP.match(text)
    if match and match.group(1) in tables:
        return match.group(1), match.group(2)
    return None


def _transforms(doc: LineMap, problems: _Problems, mapped: dict[str, str]) -> tuple[Transform, ...]:
    node = _section(doc, "transforms", problems, required=False)
    result: list[Transform] = []
    for name, spec in node.items():
        path = f"transforms.{name}"
        if name not in mapped:
            problems.add(node, name, path, "not a mapped field (one of {fields})", fields=", ".join(mapped))
        if not isinstance(spec, LineMap):
            problems.add(node, name, path, "expected a mapping with type and/or mask")
            continue
        result.append(
            Transform(
                name,
                type=_choice(spec, "type", f"{path}.type", FieldType, problems),
                mask=_choice(spec, "mask", f"{path}.mask", MaskKind, problems),
            )
        )
    return tuple(result)


def _choice(node: LineMap, key: str, path: str, enum: type[_E], problems: _Problems) -> _E | None:
    if key not in node:
        return None
    try:
        return enum(str(node[key]))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        problems.add(
            node, key, path, "expected one of {allowed}, got {value!r}", allowed=allowed, value=node[key]
        )
        return None


def _rules(doc: LineMap, problems: _Problems) -> tuple[Rule, ...]:
    items = doc.get("validate") or []
    if not isinstance(items, list):
        problems.add(doc, "validate", "validate", "expected a list of rules")
        return ()
    rules: list[Rule] = []
    for index, item in enumerate(items):
        path = f"validate[{index}]"
        if not isinstance(item, LineMap) or "rule" not in item:
            problems.add(doc, "validate", path, "expected a mapping with rule and message")
            continue
        text = str(item["rule"])
        _check_feel(item, "rule", f"{path}.rule", text, problems)
        rules.append(Rule(text, str(item.get("message", text))))
    return tuple(rules)


def _delivery(doc: LineMap, problems: _Problems) -> DeliveryPolicy:
    node = _section(doc, "delivery", problems, required=False)
    default = DeliveryPolicy()
    values: dict[str, float] = {}
    for key, attr in (("backoff", "base_delay_s"), ("max_backoff", "max_delay_s"), ("timeout", "timeout_s")):
        if key in node:
            seconds = parse_duration(node[key])
            if seconds is None:
                problems.add(node, key, f"delivery.{key}", "expected a duration such as 2s")
            else:
                values[attr] = seconds
    attempts = node.get("attempts", default.max_attempts)
    if not isinstance(attempts, int) or not 1 <= attempts <= 100:
        problems.add(node, "attempts", "delivery.attempts", "expected a whole number 1-100")
        attempts = default.max_attempts
    return DeliveryPolicy(
        max_attempts=attempts,
        base_delay_s=values.get("base_delay_s", default.base_delay_s),
        factor=float(node.get("factor", default.factor)),
        max_delay_s=values.get("max_delay_s", default.max_delay_s),
        jitter=float(node.get("jitter", default.jitter)),
        timeout_s=values.get("timeout_s", default.timeout_s),
    )


def _code_tables(doc: LineMap, problems: _Problems) -> dict[str, dict[str, Any]]:
    node = _section(doc, "code_tables", problems, required=False)
    tables: dict[str, dict[str, Any]] = {}
    for name, table in node.items():
        if not isinstance(table, dict):
            problems.add(node, name, f"code_tables.{name}", "expected a mapping of codes")
            continue
        tables[name] = {str(k): v for k, v in table.items()}
    return tables


def parse_flow(text: str, *, file: str | None = None) -> FlowDefinition:
    """Read and validate one flow definition.

    Raises ``SyntaxProblem`` for YAML that does not parse and ``InvalidInput`` (each problem in
    ``details``, with line and field) for a flow that cannot run.

    Example:
        >>> flow = parse_flow(EXAMPLE)
        >>> flow.mapping["vbeln"]
        'order_id'
    """
    doc = load_yaml(text, file=file)
    problems = _Problems(file)
    if not isinstance(doc, LineMap):
        raise InvalidInput("expected a YAML mapping at the top", location=Location(file=file, line=1))
    flow_id = _text(doc, "flow", "flow", problems)
    if flow_id and not FLOW_ID.match(flow_id):
        problems.add(doc, "flow", "flow", "expected letters, digits, '.', '_' or '-' (at most 64)")
    tables = _code_tables(doc, problems)
    mapping = _mapping(doc, problems, tables)
    key = _text(doc, "idempotency_key", "idempotency_key", problems)
    if key:
        _check_feel(doc, "idempotency_key", "idempotency_key", key, problems)
    go_live = doc.get("go_live")
    if go_live is not None and not isinstance(go_live, date):
        problems.add(doc, "go_live", "go_live", "expected a date YYYY-MM-DD")
        go_live = None
    cleanse, cleanse_problems = parse_cleanse(text, doc, file)
    problems.found.extend(cleanse_problems)
    source = _endpoint(doc, "source", problems)
    source_kind = source.connector
    definition = FlowDefinition(
        id=flow_id,
        name=str(doc.get("name", flow_id)),
        source=source,
        target=_endpoint(doc, "target", problems),
        trigger=_trigger(doc, problems, source_kind),
        mapping=mapping,
        idempotency_key=key,
        code_tables=tables,
        transforms=_transforms(doc, problems, mapping),
        rules=_rules(doc, problems),
        delivery=_delivery(doc, problems),
        direction=Direction.BOTH if str(doc.get("direction", "")) in {"both", "↔"} else Direction.ONE_WAY,
        owner=str(doc.get("owner", "")),
        security=str(doc.get("security", "")),
        go_live=go_live,
        chunk_rows=int(doc.get("chunk_rows", 50_000)),
        text=text,
        cleanse=cleanse,
    )
    if problems.found:
        first = problems.found[0]
        raise InvalidInput(
            "{count} problem(s) in the flow definition; first: {first}",
            location=Location(file=file),
            details=problems.found,
            count=len(problems.found),
            first=first.message,
        )
    return definition


EXAMPLE = """\
flow: crm-erp-orders
source: {system: CRM, connector: webhook}
target: {system: ERP, connector: http, options: {url: "http://127.0.0.1:1/orders"}}
trigger: {webhook: true}
mapping: {vbeln: order_id, kunnr: cust_code}
idempotency_key: order_id
"""
