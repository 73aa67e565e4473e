"""The HTTP target's own keep-alive client against real loopback servers: TLS with a private CA,
connection reuse, the ways an answer can be framed, and headers that must not be sent."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from isthmus.adapters.connectors.http import HttpConfig, HttpTarget
from isthmus.integration import Outbound, TargetRejected, TargetUnavailable


def message(key: str = "SO-1") -> Outbound:
    return Outbound("f", key, {"vbeln": key}, timeout_s=2.0)


class ScriptedServer:
    """Answers each request with the next of ``answers`` (raw bytes), on raw sockets; records the
    requests and how many connections were opened. ``None`` closes the connection unanswered."""

    def __init__(self, answers: list[bytes | None], *, close_after_answer: bool = False) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.close_after_answer = close_after_answer
        self.closed = threading.Event()  # set when the server closed a connection it answered on
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/in"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while self.answers:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                answer = self.answers.pop(0)
                if answer is None:
                    return
                conn.sendall(answer)
                if self.close_after_answer:
                    conn.close()
                    self.closed.set()
                    return
                lowered = answer.lower()
                framed = b"content-length" in lowered or b"chunked" in lowered
                if b"connection: close" in lowered or not framed:
                    return  # an answer without a length ends when the connection does

    def close(self) -> None:
        self._listener.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def scripted() -> Iterator[type[ScriptedServer]]:
    servers: list[ScriptedServer] = []

    class Tracked(ScriptedServer):
        def __init__(self, answers: list[bytes | None], *, close_after_answer: bool = False) -> None:
            super().__init__(answers, close_after_answer=close_after_answer)
            servers.append(self)

    yield Tracked
    for server in servers:
        server.close()


def test_one_connection_carries_many_requests_until_the_server_says_close(
    scripted: type[ScriptedServer],
) -> None:
    server = scripted([OK, OK, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", OK])
    target = HttpTarget(HttpConfig(url=server.url), 2.0)
    for key in ("A", "B", "C", "D"):
        target.send(message(key))
    target.close()
    assert server.connections == 2  # the fourth request went out on a new connection
    assert [r.split(b"Idempotency-Key: ")[1].split(b"\r\n")[0] for r in server.requests] == [
        b"A",
        b"B",
        b"C",
        b"D",
    ]
    first = server.requests[0]
    assert first.startswith(b"POST /in HTTP/1.1\r\nHost: 127.0.0.1:")
    assert first.endswith(b'\r\n\r\n{"vbeln":"A"}')
    assert b"Content-Length: 13\r\n" in first


@pytest.mark.parametrize(
    ("answer", "error", "detail"),
    [
        (
            b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n5\r\n down\r\n0\r\n\r\n",
            TargetUnavailable,
            "slow down",
        ),
        (b"HTTP/1.1 422 Unprocessable\r\nContent-Length: 9\r\n\r\nbad kunnr", TargetRejected, "bad kunnr"),
        (b"HTTP/1.0 400 Bad\r\n\r\nno length, ends at close", TargetRejected, "no length, ends at close"),
    ],
)
def test_answers_framed_by_chunks_length_or_close_are_read_whole(
    scripted: type[ScriptedServer], answer: bytes, error: type[Exception], detail: str
) -> None:
    target = HttpTarget(HttpConfig(url=scripted([answer]).url), 2.0)
    with pytest.raises(error, match=detail):
        target.send(message())
    target.close()


def test_an_interim_answer_is_skipped_and_a_close_delimited_success_delivers(
    scripted: type[ScriptedServer],
) -> None:
    server = scripted(
        [
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\n\r\n",
        ]
    )
    target = HttpTarget(HttpConfig(url=server.url), 2.0)
    target.send(message("A"))  # 201 after the 100
    target.send(message("B"))  # 200 whose end is the connection's
    target.close()
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "answers", [[None], [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], [b"garbage\r\n\r\n"]]
)
def test_a_connection_lost_or_an_answer_cut_or_malformed_is_transient_and_the_next_send_reconnects(
    scripted: type[ScriptedServer], answers: list[bytes | None]
) -> None:
    server = scripted([*answers, OK])
    target = HttpTarget(HttpConfig(url=server.url), 2.0)
    with pytest.raises(TargetUnavailable):
        target.send(message("A"))
    target.send(message("A"))
    target.close()
    assert server.connections == 2


def test_an_idle_connection_the_server_closed_is_opened_anew(scripted: type[ScriptedServer]) -> None:
    # the answers say nothing about closing, then the server closes while the connection idles
    server = scripted([OK, OK], close_after_answer=True)
    target = HttpTarget(HttpConfig(url=server.url), 2.0)
    target.send(message("A"))
    assert server.closed.wait(5)
    target.send(message("B"))  # noticed before the request went out: no error, a new connection
    target.close()
    assert server.connections == 2


def test_a_header_value_with_a_line_break_is_refused_and_a_chinese_key_is_sent_as_utf8(
    scripted: type[ScriptedServer],
) -> None:
    server = scripted([OK])
    target = HttpTarget(HttpConfig(url=server.url), 2.0)
    with pytest.raises(TargetRejected, match="Idempotency-Key"):
        target.send(message("SO-1\r\nX-Admin: yes"))
    assert server.requests == []  # nothing was sent
    target.send(message("订单-1"))
    target.close()
    assert "Idempotency-Key: 订单-1\r\n".encode() in server.requests[0]


# -- TLS with a private CA ------------------------------------------------------------------------


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost it signed: (ca, cert, key) files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Isthmus test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class _Orders(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    keys: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.keys.append(self.headers["Idempotency-Key"])
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, cert, key = _certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    _Orders.keys = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}/orders", ca
    server.shutdown()
    server.server_close()


def test_tls_is_verified_against_the_configured_private_ca(https: tuple[str, Path]) -> None:
    url, ca = https
    trusted = HttpTarget(HttpConfig(url=url, ca_file=str(ca)), 2.0)
    trusted.send(message("SO-1"))
    trusted.send(message("SO-2"))  # on the same TLS connection
    trusted.close()
    assert _Orders.keys == ["SO-1", "SO-2"]
    untrusted = HttpTarget(HttpConfig(url=url), 2.0)  # the system's CAs do not know this one
    with pytest.raises(TargetUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        untrusted.send(message("SO-3"))
    untrusted.close()
    assert _Orders.keys == ["SO-1", "SO-2"]


def test_a_non_ascii_path_goes_out_percent_encoded(scripted: type[ScriptedServer]) -> None:
    server = scripted([OK])
    target = HttpTarget(HttpConfig(url=server.url.replace("/in", "/订单/in?a=1%202")), 2.0)
    target.send(message())
    target.close()
    assert server.requests[0].startswith(b"POST /%E8%AE%A2%E5%8D%95/in?a=1%202 HTTP/1.1\r\n")
