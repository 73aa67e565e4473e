"""Cleansing rule files (YAML): parse into :class:`Rule` values, naming line and field on every error.

A file is a mapping with a ``rules:`` list (and optionally a ``dedupe:`` section, read by
``isthmus.quality._dedupe``); each rule is a mapping with ``type`` and ``columns``. The reference is
``docs/quality.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

from isthmus.errors import InvalidInput, Location, SyntaxProblem


class RuleKind(StrEnum):
    TRIM = "trim"
    HALFWIDTH = "halfwidth"
    CASE = "case"
    COMPANY_SUFFIX = "company_suffix"
    PHONE = "phone"
    DATE = "date"
    MAP = "map"
    FILL = "fill"
    VALIDATE = "validate"


#: Options each kind accepts (besides type, name and columns) and which of them it requires.
_OPTIONS: dict[RuleKind, tuple[frozenset[str], frozenset[str]]] = {
    RuleKind.TRIM: (frozenset(), frozenset()),
    RuleKind.HALFWIDTH: (frozenset({"nfkc"}), frozenset()),
    RuleKind.CASE: (frozenset({"to"}), frozenset({"to"})),
    RuleKind.COMPANY_SUFFIX: (frozenset({"suffixes", "replace_defaults"}), frozenset()),
    RuleKind.PHONE: (frozenset({"region", "invalid"}), frozenset()),
    RuleKind.DATE: (frozenset({"formats", "invalid"}), frozenset()),
    RuleKind.MAP: (frozenset({"table", "unmapped"}), frozenset({"table"})),
    RuleKind.FILL: (frozenset({"constant", "from", "lookup"}), frozenset()),
    RuleKind.VALIDATE: (frozenset({"rule"}), frozenset({"rule"})),
}
CASES = ("lower", "upper", "title")


@dataclass(frozen=True, slots=True)
class Rule:
    """One cleansing or validation rule as written in a rule file (``line`` is 1-based)."""

    kind: RuleKind
    columns: tuple[str, ...]
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    file: str | None = None
    field_lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, field_name: str | None = None) -> Location:
        """The location of this rule (or one of its fields) for an error message."""
        line = self.field_lines.get(field_name, self.line) if field_name else self.line
        return Location(file=self.file, line=line, field=field_name)


def validation(name: str, expression: str, *, columns: tuple[str, ...] = ()) -> Rule:
    """A FEEL validation rule built in code (``rule`` must be true for a row to pass)."""
    return Rule(RuleKind.VALIDATE, columns, name, {"rule": expression})


@dataclass(frozen=True, slots=True)
class RuleFile:
    """The parsed file: its rules and its raw ``dedupe`` section (if any)."""

    rules: tuple[Rule, ...]
    dedupe: Mapping[str, Any]
    dedupe_line: int | None
    file: str | None


def _load(text: str, name: str | None) -> tuple[yaml.Node | None, Any]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise SyntaxProblem(
            "not valid YAML: {problem}",
            location=Location(file=name, line=mark.line + 1 if mark else None),
            problem=str(getattr(error, "problem", error)),
        ) from error
    finally:
        loader.dispose()


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v  # type: ignore[no-any-return]
    return None


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def parse_rules(text: str, *, file: str | None = None) -> RuleFile:
    """Parse a rule file.

    >>> parse_rules("rules:\\n  - type: trim\\n    columns: [name]\\n").rules[0].kind
    <RuleKind.TRIM: 'trim'>

    Raises:
        SyntaxProblem: the YAML does not parse (with its line).
        InvalidInput: a rule is malformed (with the line and field of the rule).
    """
    node, data = _load(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(
            "a rule file is a mapping with 'rules' (and 'dedupe')", location=Location(file=file)
        )
    unknown = sorted(set(data) - {"rules", "dedupe"})
    if unknown:
        raise InvalidInput(
            "unknown section {section!r}; allowed: rules, dedupe",
            location=Location(file=file, line=_line(_child(node, unknown[0]))),
            section=unknown[0],
        )
    items = data.get("rules") or []
    items_node = _child(node, "rules")
    if not isinstance(items, list):
        raise InvalidInput("'rules' must be a list", location=Location(file=file, line=_line(items_node)))
    nodes = items_node.value if isinstance(items_node, yaml.SequenceNode) else [None] * len(items)
    rules = tuple(_rule(item, n, i, file) for i, (item, n) in enumerate(zip(items, nodes, strict=True)))
    dedupe = data.get("dedupe") or {}
    if not isinstance(dedupe, dict):
        raise InvalidInput(
            "'dedupe' must be a mapping", location=Location(file=file, line=_line(_child(node, "dedupe")))
        )
    return RuleFile(rules, dedupe, _line(_child(node, "dedupe")), file)


def _rule(item: Any, node: yaml.Node | None, index: int, file: str | None) -> Rule:
    line = _line(node)
    lines = {k.value: _line(v) or 0 for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}

    def problem(template: str, field_name: str | None = None, **params: Any) -> InvalidInput:
        at = lines.get(field_name, line) if field_name else line
        return InvalidInput(template, location=Location(file=file, line=at, field=field_name), **params)

    if not isinstance(item, dict):
        raise problem("rule {index} must be a mapping with 'type' and 'columns'", index=index + 1)
    try:
        kind = RuleKind(str(item.get("type")))
    except ValueError:
        raise problem(
            "unknown rule type {value!r}; allowed: {allowed}",
            "type",
            value=str(item.get("type")),
            allowed=", ".join(k.value for k in RuleKind),
        ) from None
    columns = item.get("columns", [])
    columns = [columns] if isinstance(columns, str) else columns
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise problem("'columns' must be a column name or a list of names", "columns")
    if not columns and kind is not RuleKind.VALIDATE:
        raise problem("a {kind} rule needs 'columns'", "columns", kind=kind.value)
    allowed, required = _OPTIONS[kind]
    options = {k: v for k, v in item.items() if k not in ("type", "columns", "name")}
    for key in sorted(set(options) - allowed):
        raise problem(
            "option {option!r} is not known to a {kind} rule; allowed: {allowed}",
            key,
            option=key,
            kind=kind.value,
            allowed=", ".join(sorted(allowed)) or "none",
        )
    for key in sorted(required - set(options)):
        raise problem("a {kind} rule needs {option!r}", kind=kind.value, option=key)
    rule = Rule(
        kind, tuple(columns), str(item.get("name") or f"{kind.value}#{index + 1}"), options, line, file, lines
    )
    _check_options(rule)
    return rule


def _check_options(rule: Rule) -> None:
    o = rule.options
    if rule.kind is RuleKind.CASE and o["to"] not in CASES:
        raise InvalidInput(
            "'to' must be one of {allowed}", location=rule.where("to"), allowed=", ".join(CASES)
        )
    if rule.kind is RuleKind.MAP and not isinstance(o["table"], dict):
        raise InvalidInput("'table' must map codes to values", location=rule.where("table"))
    if rule.kind is RuleKind.FILL and sum(k in o for k in ("constant", "from", "lookup")) != 1:
        raise InvalidInput("a fill rule needs exactly one of constant, from, lookup", location=rule.where())
    lookup = o.get("lookup")
    if (
        rule.kind is RuleKind.FILL
        and lookup is not None
        and not (
            isinstance(lookup, dict)
            and isinstance(lookup.get("key"), str)
            and isinstance(lookup.get("table"), dict)
        )
    ):
        raise InvalidInput(
            "'lookup' needs 'key' (a column) and 'table' (a mapping)", location=rule.where("lookup")
        )
    if rule.kind is RuleKind.VALIDATE:
        from isthmus.feel import FeelSyntaxError, compile_expression

        try:
            compile_expression(str(o["rule"]))
        except FeelSyntaxError as error:
            raise InvalidInput(
                "FEEL rule does not parse: {problem}", location=rule.where("rule"), problem=error.message
            ) from error
    suffixes = o.get("suffixes")
    if suffixes is not None and not (
        isinstance(suffixes, dict) and all(isinstance(v, list) for v in suffixes.values())
    ):
        raise InvalidInput(
            "'suffixes' maps a canonical suffix to its variants", location=rule.where("suffixes")
        )
