"""Cleansing rules inside a flow: the ``cleanse:`` section, resolved and applied before the mapping.

A flow may name the rules of a quality rule file (``cleanse: rules/customers.yaml``) or list them
inline in the same schema (``docs/quality.md``, "Rule files"). A path is read once, when the flow is
deployed, and :func:`inline_cleanse` writes the rules into the stored text, so a deployed version
never depends on the file again. The rules run on each record (row mode) or chunk (batch mode,
vectorised by ``isthmus.quality``) before the FEEL mapping; a ``validate`` rule a record breaks
rejects it like a flow's own ``validate`` rule: dead-lettered with its row number and the rule's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import polars as pl
import yaml

from isthmus.errors import InvalidInput, IsthmusError, Location
from isthmus.integration._yaml import LineMap, load_yaml
from isthmus.quality import Rule, RuleKind, apply_rules, parse_rules, violations

KEY = "cleanse"
#: Reads a rules file named in a flow (a relative path) and returns its text.
RulesReader = Callable[[str], str]
#: A row passes a FEEL check (True) or not: the flow's own vectorised check, else quality's.
Check = Callable[[str, pl.DataFrame], pl.Series]


def _block(text: str, doc: LineMap) -> tuple[int, int]:
    """The 1-based lines [first, last] of the top-level ``cleanse`` entry (up to the next key)."""
    first = doc.line_of(KEY)
    later = [line for line in doc.lines.values() if line > first]
    last = min(later) - 1 if later else len(text.splitlines())
    return first, last


def parse_cleanse(text: str, doc: LineMap, file: str | None) -> tuple[tuple[Rule, ...], list[IsthmusError]]:
    """The inline rules of a flow's ``cleanse`` section, with problems naming line and field.

    The section is handed to :func:`isthmus.quality.parse_rules` as a rule file whose other lines
    are blank, so each rule keeps the line it has in the flow file.
    """
    value = doc.get(KEY)
    if value is None:
        return (), []
    if isinstance(value, str):
        problem = InvalidInput(
            "the rules file {path!r} was not read; deploy or validate the flow through Isthmus, which"
            " inlines it",
            location=Location(file=file, line=doc.line_of(KEY), field=KEY),
            path=value,
        )
        return (), [problem]
    if not isinstance(value, list):
        where = Location(file=file, line=doc.line_of(KEY), field=KEY)
        return (), [InvalidInput("expected a rules file path or a list of rules", location=where)]
    first, last = _block(text, doc)
    lines = text.splitlines()
    kept = [
        (line.replace(KEY, "rules", 1) if number == first else line) if first <= number <= last else ""
        for number, line in enumerate(lines, start=1)
    ]
    try:
        rules = parse_rules("\n".join(kept), file=file).rules
    except InvalidInput as error:
        return (), [_in_section(error, file)]
    return rules, []


def _in_section(error: InvalidInput, file: str | None) -> InvalidInput:
    """The same problem with its field named inside the flow (``cleanse.region``)."""
    where = error.location or Location(file=file)
    field = f"{KEY}.{where.field}" if where.field else KEY
    return InvalidInput(
        error.template,
        location=Location(file=where.file or file, line=where.line, field=field),
        **error.params,
    )


def inline_cleanse(text: str, read: RulesReader, *, file: str | None = None) -> str:
    """``cleanse: PATH`` replaced by the rules of that file, written inline; other texts unchanged.

    Raises:
        InvalidInput: the path escapes its directory, or the rules file is malformed (naming the
            rules file's line and field).
    """
    doc = load_yaml(text, file=file)
    if not isinstance(doc, LineMap) or not isinstance(doc.get(KEY), str):
        return text
    path = str(doc[KEY]).strip()
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts:
        raise InvalidInput(
            "expected a rules file path relative to the flow file, got {path!r}",
            location=Location(file=file, line=doc.line_of(KEY), field=KEY),
            path=path,
        )
    try:
        rules_text = read(path)
    except OSError as error:
        raise InvalidInput(
            "cannot read the rules file {path!r}: {reason}",
            location=Location(file=file, line=doc.line_of(KEY), field=KEY),
            path=path,
            reason=error.strerror or str(error),
        ) from error
    parse_rules(rules_text, file=path)  # a bad rules file is reported against its own lines
    items = (yaml.safe_load(rules_text) or {}).get("rules") or []
    body = yaml.safe_dump({KEY: items}, allow_unicode=True, sort_keys=False, width=1000)
    first, last = _block(text, doc)
    lines = text.splitlines()
    block = [f"# {KEY}: inlined from {path} at deploy time", *body.rstrip("\n").splitlines()]
    return "\n".join([*lines[: first - 1], *block, *lines[last:]]) + "\n"


def _missing_as_null(frame: pl.DataFrame, rules: Sequence[Rule]) -> pl.DataFrame:
    """A record without a rule's column holds null there (JSON sources leave empty fields out)."""
    named = {c for rule in rules for c in rule.columns}
    for rule in rules:
        if rule.kind is RuleKind.FILL and "from" in rule.options:
            named.add(str(rule.options["from"]))
        if rule.kind is RuleKind.FILL and "lookup" in rule.options:
            named.add(str(rule.options["lookup"]["key"]))
    missing = sorted(named - set(frame.columns))
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing) if missing else frame


def cleanse_frame(
    rules: Sequence[Rule], frame: pl.DataFrame, check: Check | None = None
) -> tuple[pl.DataFrame, list[str | None]]:
    """The cleansed chunk and, per row, the first violated rule's message (None: the row passes).

    Transforming rules run column-wise (``isthmus.quality.apply_rules``); each ``validate`` rule is
    checked on the data as cleansed by the rules before it, as in a rule file. ``check`` is the
    flow's own rule check (it runs a plain ``matches`` in Polars instead of row by row).
    """
    errors: list[str | None] = [None] * frame.height
    if not rules or frame.height == 0:
        return frame, errors
    frame = _missing_as_null(frame, rules)
    for rule in rules:
        if rule.kind is RuleKind.VALIDATE:
            expression = str(rule.options["rule"])
            broken = ~check(expression, frame) if check else violations(frame, rule)
            for index in broken.arg_true().to_list():
                errors[index] = errors[index] or f"cleanse: {rule.name}"
        else:
            frame = apply_rules(frame, [rule]).frame
    return frame, errors


def cleanse_record(rules: Sequence[Rule], record: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """One record cleansed (only the columns the rules change are replaced) and its violation, if any."""
    source = dict(record)
    if not rules:
        return source, None
    touched = {c for rule in rules if rule.kind is not RuleKind.VALIDATE for c in rule.columns}
    frame = pl.DataFrame([source], strict=False, infer_schema_length=None)
    cleansed, errors = cleanse_frame(rules, frame)
    row = cleansed.row(0, named=True)
    source.update({c: row[c] for c in touched})
    return source, errors[0]
