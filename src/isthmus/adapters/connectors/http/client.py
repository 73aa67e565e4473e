"""HTTP target: one request per message, the idempotency key in a header.

Messages go out on keep-alive connections, one per sending thread, each request in one write and
each answer read by ``httptools``' parser (measured on loopback by ``bench/http_send.py``: ~95 µs
CPU per request, against ~200 µs with ``http.client`` and ~590 µs with an ``httpx.Client``; batch
delivery sends from a thread pool). ``httpx`` still fetches OAuth tokens, and sends the messages when a proxy from the
environment applies to the URL.

Answers decide retries on the error type: 2xx delivered; 408, 425, 429 and 5xx, timeouts and
refused connections are ``TargetUnavailable`` (retried with backoff); any other 4xx is
``TargetRejected`` (dead-lettered at once). An OAuth 2.0 token (client credentials, RFC 6749 §4.4)
is cached until shortly before ``expires_in`` and fetched again once after a 401.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import select
import socket
import ssl
import threading
import time
import urllib.request
from urllib.parse import quote, urlsplit

import httptools
import httpx

from isthmus.adapters import json_codec
from isthmus.adapters.connectors.http.config import HttpConfig
from isthmus.integration import Outbound, TargetRejected, TargetUnavailable, to_xml

RETRYABLE_STATUS = frozenset({408, 425, 429})
TOKEN_MARGIN_S = 30.0


class OAuthToken:
    """A client-credentials token, cached and refreshed (thread-safe)."""

    def __init__(self, client: httpx.Client, config: HttpConfig) -> None:
        self._client = client
        self._config = config
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.fetched = 0

    def get(self, *, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or time.monotonic() >= self._expires:
                self._token, lifetime = self._fetch()
                self._expires = time.monotonic() + max(lifetime - TOKEN_MARGIN_S, 1.0)
                self.fetched += 1
            return self._token

    def _fetch(self) -> tuple[str, float]:
        data = {"grant_type": "client_credentials"}
        if self._config.scope:
            data["scope"] = self._config.scope
        auth = (self._config.client_id, self._config.client_secret.get_secret_value())
        try:
            answer = self._client.post(self._config.token_url, data=data, auth=auth)
        except httpx.HTTPError as exc:
            raise TargetUnavailable(
                "token endpoint {url}: {error}", url=self._config.token_url, error=str(exc)
            ) from exc
        if answer.status_code >= 500:
            raise TargetUnavailable("token endpoint answered {status}", status=answer.status_code)
        if answer.status_code != 200:
            raise TargetRejected("token endpoint refused the client: {status}", status=answer.status_code)
        body = answer.json()
        return str(body["access_token"]), float(body.get("expires_in", 3600))


class _Response:
    """What a send needs of an answer, from either client."""

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.text = body.decode("utf-8", "replace")


class _Answer:
    """The callbacks ``httptools`` calls while it parses one answer (its C parser, llhttp, is the
    one uvicorn reads requests with)."""

    __slots__ = ("body", "complete", "headers_complete", "keep_alive", "parser", "status")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.headers_complete = self.complete = self.keep_alive = False
        self.status = 0

    def on_headers_complete(self) -> None:
        self.headers_complete = True

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            self.headers_complete = False
            self.body.clear()
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()  # (the parser forgets it once it returns)
        self.complete = True


class _Connection:
    """One keep-alive connection: a request goes out in one write, the answer is read with
    ``httptools``' parser."""

    __slots__ = ("sock",)

    def __init__(self) -> None:
        self.sock: socket.socket | None = None

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None


def _head_bytes(value: str, what: str) -> bytes:
    """A header value as sent (UTF-8); CR, LF and NUL refused: they would split the header."""
    if _FORBIDDEN_IN_HEADER.search(value):
        raise TargetRejected("header {name}: a value may not hold CR, LF or NUL", name=what)
    return value.encode()


_FORBIDDEN_IN_HEADER = re.compile(r"[\r\n\x00]")


class KeepAliveConnections:
    """One keep-alive connection to the target per sending thread.

    Why not ``http.client``: it writes a request in two sends (head, then body) and parses the
    answer's headers with the ``email`` package — twice the CPU per request on loopback
    (``bench/http_send.py``; ``bench/RESULTS.md``, Real time, round 5). A connection the server closed
    while it was idle is noticed before it is used (as httpcore does) and opened anew; a request
    that fails once sent is not retried here (the job is)."""

    def __init__(self, url: str, tls: ssl.SSLContext) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        # non-ASCII and control characters percent-encoded (as httpx does), escapes kept as written
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.path = quote(path, safe="/?&=:;@!$'()*+,%~-._[]")
        host = f"[{self._host}]" if ":" in self._host else self._host
        default_port = parts.port is None or parts.port == (443 if self._https else 80)
        self._host_header = (host if default_port else f"{host}:{self._port}").encode("idna")
        self._context = tls if self._https else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[_Connection] = []

    def _connection(self) -> _Connection:
        found: _Connection | None = getattr(self._local, "connection", None)
        if found is None:
            found = self._local.connection = _Connection()
            with self._lock:
                self._open.append(found)
        return found

    def _connect(self, connection: _Connection, timeout_s: float) -> socket.socket:
        sock = socket.create_connection((self._host, self._port), timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise
        connection.sock = sock
        return sock

    def request(self, method: str, body: bytes, headers: dict[str, str], timeout_s: float) -> _Response:
        head = [
            f"{method} {self.path} HTTP/1.1\r\n".encode(),
            b"Host: " + self._host_header + b"\r\n",
            b"Content-Length: " + str(len(body)).encode() + b"\r\n",
        ]
        for name, value in headers.items():
            head.append(_head_bytes(name, name) + b": " + _head_bytes(value, name) + b"\r\n")
        head.append(b"\r\n")
        connection = self._connection()
        sock = connection.sock
        if sock is not None and select.select([sock], [], [], 0)[0]:
            connection.close()  # readable while idle: the server closed it (or sent junk); open anew
            sock = None
        try:
            if sock is None:
                sock = self._connect(connection, timeout_s)
            else:
                sock.settimeout(timeout_s)
            sock.sendall(b"".join(head) + body)
            answer = _read_answer(sock)
        except BaseException:
            connection.close()
            raise
        if not answer.keep_alive:
            connection.close()
        return _Response(answer.status, b"".join(answer.body))

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            connection.close()


def _read_answer(sock: socket.socket) -> _Answer:
    answer = _Answer()
    while not answer.complete:
        data = sock.recv(65536)
        if not data:
            # an answer without a length ends when the server closes the connection
            if answer.headers_complete and answer.status == 0:
                answer.status = answer.parser.get_status_code()
                return answer
            raise ConnectionError("the server closed the connection before its answer was complete")
        try:
            answer.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise http.client.HTTPException(f"malformed answer: {exc}") from exc
    return answer


def tls_context(config: HttpConfig) -> ssl.SSLContext:
    """How the target's certificate is checked, for both clients: against ``ca_file`` (a private
    CA) when given, else the system's CAs; not at all with ``verify: false``."""
    context = ssl.create_default_context(cafile=config.ca_file)
    if not config.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _proxied(url: str) -> bool:
    """Whether a proxy from the environment applies to ``url`` (as httpx would use it)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    return parts.scheme in proxies and not urllib.request.proxy_bypass(parts.hostname or "")


class HttpTarget:
    """Satisfies ``isthmus.integration.Target``."""

    def __init__(self, config: HttpConfig, timeout_s: float) -> None:
        self.config = config
        tls = tls_context(config)
        self._client = httpx.Client(timeout=timeout_s, verify=tls)
        self.token = OAuthToken(self._client, config) if config.auth == "oauth2" else None
        self._fast = None if _proxied(config.url) else KeepAliveConnections(config.url, tls)

    def _headers(self, message: Outbound, *, fresh_token: bool = False) -> dict[str, str]:
        headers = dict(self.config.headers)
        headers[self.config.idempotency_header] = message.idempotency_key
        headers["Content-Type"] = "application/xml" if self.config.format == "xml" else "application/json"
        if self.config.auth == "api_key":
            headers[self.config.api_key_header] = self.config.api_key.get_secret_value()
        elif self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get(force=fresh_token)}"
        return headers

    def _body(self, message: Outbound) -> bytes:
        if self.config.format == "xml":
            return to_xml(message.payload, root=self.config.xml_root, item=self.config.xml_item)
        return json_codec.dumps(message.payload)

    def _request(self, message: Outbound, *, fresh_token: bool = False) -> _Response | httpx.Response:
        headers = self._headers(message, fresh_token=fresh_token)
        if self.config.auth == "basic":
            pair = f"{self.config.username}:{self.config.password.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        try:
            if self._fast is not None:
                return self._fast.request(self.config.method, self._body(message), headers, message.timeout_s)
            return self._client.request(
                self.config.method,
                self.config.url,
                content=self._body(message),
                headers=headers,
                timeout=message.timeout_s,
            )
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise TargetUnavailable(
                "{url}: timed out after {s} s", url=self.config.url, s=message.timeout_s
            ) from exc
        except (httpx.HTTPError, OSError, http.client.HTTPException) as exc:
            raise TargetUnavailable(
                "{url}: {error}", url=self.config.url, error=type(exc).__name__ + ": " + str(exc)
            ) from exc

    def send(self, message: Outbound) -> None:
        answer = self._request(message)
        if answer.status_code == 401 and self.token is not None:
            answer = self._request(message, fresh_token=True)  # the token may have been revoked early
        status = answer.status_code
        if status < 300:
            return
        detail = answer.text[:200]
        if status >= 500 or status in RETRYABLE_STATUS:
            raise TargetUnavailable(
                "{url} answered {status}: {detail}", url=self.config.url, status=status, detail=detail
            )
        raise TargetRejected(
            "{url} answered {status}: {detail}", url=self.config.url, status=status, detail=detail
        )

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
        self._client.close()
