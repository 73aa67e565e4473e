"""Connectors against real servers and real files: the loopback sandbox API, SQLite/PostgreSQL, folders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any, ClassVar

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, select

from isthmus.adapters.connectors import make_target
from isthmus.adapters.connectors.files import FilesConfig, InboundFolder, read_chunks
from isthmus.adapters.connectors.http import HttpConfig, HttpTarget
from isthmus.adapters.connectors.sql import SqlConfig, SqlSource, SqlTarget
from isthmus.demo.integration import SandboxApi
from isthmus.errors import ConfigurationError
from isthmus.integration import Endpoint, Outbound, TargetRejected, TargetUnavailable


def message(key: str = "SO-1", **payload: Any) -> Outbound:
    return Outbound("f", key, payload or {"vbeln": key}, timeout_s=2.0)


def oauth(api: SandboxApi, **extra: Any) -> HttpTarget:
    options = {
        "url": f"{api.url}/api/orders",
        "auth": "oauth2",
        "token_url": f"{api.url}/oauth/token",
        "client_id": "isthmus",
        "client_secret": "s3cret",
    } | extra
    return HttpTarget(HttpConfig.from_options(options), 2.0)


def test_oauth_token_is_cached_and_fetched_again_after_a_401(api: SandboxApi) -> None:
    target = oauth(api)
    target.send(message("SO-1"))
    target.send(message("SO-2"))
    assert api.tokens_issued == 1
    api.revoke_tokens()
    target.send(message("SO-3"))
    assert api.tokens_issued == 2
    assert sorted(api.records["/api/orders"]) == ["SO-1", "SO-2", "SO-3"]
    target.close()


def test_wrong_client_secret_is_terminal(api: SandboxApi) -> None:
    target = oauth(api, client_secret="wrong")
    with pytest.raises(TargetRejected):
        target.send(message())
    target.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TargetUnavailable),
        (503, TargetUnavailable),
        (429, TargetUnavailable),
        (400, TargetRejected),
        (422, TargetRejected),
        (0, TargetUnavailable),
    ],
)
def test_answers_decide_retries(api: SandboxApi, status: int, error: type[Exception]) -> None:
    target = oauth(api)
    target.send(message("warm-up"))
    api.fail_next(1, status)
    with pytest.raises(error):
        target.send(message())
    target.close()


def test_a_refused_connection_is_transient() -> None:
    target = HttpTarget(HttpConfig(url="http://127.0.0.1:9/x"), 1.0)
    with pytest.raises(TargetUnavailable):
        target.send(message())
    target.close()


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/in"
    server.shutdown()
    server.server_close()


def test_xml_body_api_key_and_idempotency_header(recorder: str) -> None:
    target = make_target(
        Endpoint(
            "ERP",
            "http",
            {"url": recorder, "auth": "api_key", "api_key": "k-1", "format": "xml", "xml_root": "Order"},
        ),
        2.0,
    )
    target.send(message("SO-9", vbeln="SO-9", kunnr="C1"))
    target.close()
    ((headers, body),) = _Recorder.seen
    assert headers["X-API-Key"] == "k-1"
    assert headers["Idempotency-Key"] == "SO-9"
    assert body.endswith(b"<Order><vbeln>SO-9</vbeln><kunnr>C1</kunnr></Order>")


def test_basic_auth(recorder: str) -> None:
    target = HttpTarget(
        HttpConfig.from_options({"url": recorder, "auth": "basic", "username": "u", "password": "p"}), 2.0
    )
    target.send(message())
    target.close()
    assert _Recorder.seen[0][0]["Authorization"] == "Basic dTpw"


def test_unknown_options_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"options\.colour"):
        make_target(Endpoint("ERP", "http", {"url": "http://x", "colour": "red"}), 1.0)


def _vbak(url: str) -> Table:
    table = Table(
        "vbak", MetaData(), Column("vbeln", String(20), primary_key=True), Column("kunnr", String(20))
    )
    engine = create_engine(url)
    table.metadata.create_all(engine)
    engine.dispose()
    return table


def test_sql_target_upserts_by_key(db_url: str) -> None:
    table = _vbak(db_url)
    target = SqlTarget(SqlConfig(url=db_url, table="vbak", key=["vbeln"]), 2.0)
    target.send(message("SO-1", vbeln="SO-1", kunnr="C1"))
    target.send(message("SO-1", vbeln="SO-1", kunnr="C2"))  # a retry with a change: still one row
    with pytest.raises(TargetRejected):
        target.send(message("SO-2", vbeln="SO-2", nope="x"))
    target.close()
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(table)).all() == [("SO-1", "C2")]
    engine.dispose()


def test_sql_source_reads_after_the_watermark(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    table = _vbak(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"vbeln": f"SO-{i}", "kunnr": "C"} for i in range(5)])
    engine.dispose()
    source = SqlSource(SqlConfig(url=url, table="vbak", watermark="vbeln", batch_rows=2))
    batches = list(source.batches(after="SO-1"))
    assert [(first, [r["vbeln"] for r in rows]) for first, rows in batches] == [
        (1, ["SO-2", "SO-3"]),
        (3, ["SO-4"]),
    ]
    assert source.last_watermark == "SO-4"
    source.close()


def test_files_chunks_encodings_and_moves(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    lines = ["emp_id;dept_name"] + [f"E{i:04d};销售部" for i in range(5)]
    (inbox / "a.csv").write_bytes("\n".join(lines).encode("gb18030"))
    (inbox / "b.csv").write_bytes(b"\xff\xfe broken")
    config = FilesConfig(folder=str(inbox), delimiter=";", encoding="gb18030", chunk_rows=2, pattern="*.csv")
    folder = InboundFolder(config)
    first, second = folder.pending()
    chunks = list(read_chunks(first, config))
    assert [(row, frame.height) for row, frame in chunks] == [(1, 2), (3, 2), (5, 1)]
    assert chunks[0][1].row(0) == ("E0000", "销售部")
    folder.done(first)
    utf8 = config.model_copy(update={"encoding": "utf-8"})
    with pytest.raises(UnicodeDecodeError):
        list(read_chunks(second, utf8))
    folder.failed(second, "not UTF-8")
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["a.csv"]
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["b.csv", "b.csv.error.txt"]


def test_files_target_writes_atomically_named_by_key(tmp_path: Path) -> None:
    target = make_target(Endpoint("HR", "files", {"folder": str(tmp_path), "format": "jsonl"}), 1.0)
    target.send(message("E/1", emp_id="E1"))
    target.send(message("E/1", emp_id="E1"))
    assert [p.name for p in tmp_path.iterdir()] == ["E_1.jsonl"]
    assert json.loads((tmp_path / "E_1.jsonl").read_text(encoding="utf-8")) == {"emp_id": "E1"}
