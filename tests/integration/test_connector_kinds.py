"""Flow YAML names its connector kinds; an unknown kind or a missing option is reported with its line."""

from __future__ import annotations

import pytest

from isthmus.adapters import connectors
from isthmus.adapters.connectors import sources
from isthmus.errors import InvalidInput
from isthmus.integration import parse_flow
from isthmus.integration._definition import SOURCE_KINDS, TARGET_KINDS

FLOW = """\
flow: erp-orders
source: {{system: CRM, connector: {source}}}
target:
  system: ERP
  connector: {kind}
  options:
{options}
trigger: {trigger}
mapping: {{vbeln: order_id}}
idempotency_key: order_id
"""


def flow(kind: str, options: str, *, source: str = "webhook", trigger: str = "{webhook: true}") -> str:
    body = "\n".join(f"    {line}" for line in options.splitlines()) or "    {}"
    return FLOW.format(kind=kind, options=body, source=source, trigger=trigger)


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_flow(text, file="f.yaml")
    return [p.message for p in caught.value.details]


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("jsonrpc", "url: http://erp/jsonrpc\nmethod: create\nauth: odoo\nparams: positional"),
        ("xmlrpc", "url: http://erp\nmethod: create"),
        ("soap", "url: http://erp/orders\noperation: CreateOrder\nversion: '1.2'"),
        ("soap", "wsdl: http://erp/orders?wsdl\noperation: CreateOrder"),
    ],
)
def test_the_new_kinds_parse(kind: str, options: str) -> None:
    parsed = parse_flow(flow(kind, options))
    assert parsed.target.connector == kind


def test_an_unknown_kind_names_its_line_and_the_kinds() -> None:
    [problem] = problems(flow("ftp", "url: x"))
    assert "f.yaml, line 5, field 'target.connector'" in problem
    assert "expected one of files, http, jsonrpc, soap, sql, xmlrpc, got 'ftp'" in problem


def test_a_missing_option_names_the_options_line() -> None:
    [problem] = problems(flow("jsonrpc", "url: http://erp/jsonrpc"))
    assert "line 6, field 'target.options.method'" in problem
    assert "a jsonrpc target needs method" in problem


def test_a_bad_choice_names_its_own_line() -> None:
    found = problems(flow("soap", "url: http://erp\noperation: Op\nversion: '1.3'\nauth: oauth2"))
    assert any("line 9, field 'target.options.version'" in p and "1.1, 1.2" in p for p in found)
    assert any("line 10, field 'target.options.auth'" in p for p in found)


def test_a_source_kind_that_is_only_a_target() -> None:
    [problem] = problems(flow("http", "url: x", source="soap"))
    assert "field 'source.connector'" in problem


def test_a_scheduled_trigger_needs_a_pulled_source() -> None:
    [problem] = problems(flow("http", "url: x", trigger='{cron: "0 22 * * *"}'))
    assert "line 8, field 'trigger.cron'" in problem
    assert "webhook source is pushed" in problem
    assert parse_flow(flow("http", "url: x", source="sql", trigger="{poll: 5m}")).trigger.interval_s == 300


def test_the_adapters_implement_exactly_the_target_kinds() -> None:
    assert tuple(sorted(connectors.TARGET_KINDS)) == TARGET_KINDS
    assert set(SOURCE_KINDS) - {"webhook"} <= set(sources.PULLED_KINDS)


def test_an_rpc_source_needs_its_model() -> None:
    text = flow("http", "url: x", source="xmlrpc", trigger="{poll: 1m}")
    [problem] = problems(text)
    assert "field 'source.options.model'" in problem
    fixed = text.replace("connector: xmlrpc}", "connector: xmlrpc, options: {model: account.move.line}}")
    assert parse_flow(fixed).source.options["model"] == "account.move.line"


@pytest.mark.parametrize(
    ("options", "field", "expected"),
    [
        ("folder: out\ndelimiter: ';;'", "delimiter", "expected one character, got ';;'"),
        ("folder: out\nencoding: klingon", "encoding", "expected a known encoding"),
    ],
)
def test_a_files_target_with_an_unusable_delimiter_or_encoding(
    options: str, field: str, expected: str
) -> None:
    [problem] = problems(flow("files", options))
    assert f"line 8, field 'target.options.{field}'" in problem
    assert expected in problem


def test_files_options_accept_gb18030_and_a_semicolon() -> None:
    parsed = parse_flow(flow("files", "folder: out\ndelimiter: ';'\nencoding: gb18030"))
    assert parsed.target.options["encoding"] == "gb18030"
