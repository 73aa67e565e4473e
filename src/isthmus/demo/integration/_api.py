"""A sandbox REST API on loopback: OAuth 2.0 client credentials, upsert by idempotency key, faults.

POST ``/oauth/token`` (HTTP basic client id/secret, ``grant_type=client_credentials``) answers a
bearer token; POST ``/api/<collection>`` needs it, stores the JSON body under the
``Idempotency-Key`` header (a second request with the same key replaces, never adds) and answers
201. ``fail_next(n, status)`` makes the next ``n`` requests answer ``status`` (0 = drop the
connection) — the guide's "retry 3 times after a failed transfer" in a test.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        api = self.server.api
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path == "/oauth/token":
            self._answer(*api.token(self.headers.get("Authorization", ""), body.decode()))
            return
        api.record_request(self.path, self.headers.get("Idempotency-Key"))
        status = api.take_fault()
        if status == 0:
            self.close_connection = True
            self.connection.close()
            return
        if status:
            self._answer(status, {"error": "injected fault"})
            return
        self._answer(*api.store(self.path, dict(self.headers), body))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: SandboxApi


class SandboxApi:
    """Example:
    >>> with SandboxApi() as api:
    ...     api.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        *,
        client_id: str = "isthmus",
        client_secret: str = "s3cret",  # noqa: S107 - a sandbox's well-known secret
        token_lifetime_s: int = 3600,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        self.records: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.requests: list[tuple[str, str | None]] = []
        self.tokens_issued = 0
        self._tokens: set[str] = set()
        self._faults: list[int] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SandboxApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._faults.extend([status] * count)

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def record_request(self, path: str, key: str | None) -> None:
        with self._lock:
            self.requests.append((path, key))

    def take_fault(self) -> int | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def token(self, authorization: str, form: str) -> tuple[int, Any]:
        import base64

        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if not secrets.compare_digest(authorization, expected):
            return 401, {"error": "invalid_client"}
        if parse_qs(form).get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens.add(token)
            self.tokens_issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_s}

    def store(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        key = lower.get("idempotency-key")
        with self._lock:
            bearer = lower.get("authorization", "").removeprefix("Bearer ")
            if self.tokens_issued and bearer not in self._tokens:
                return 401, {"error": "invalid_token"}
        try:
            record = json.loads(body)
        except json.JSONDecodeError:
            return 400, {"error": "malformed JSON"}
        if not key:
            return 422, {"error": "Idempotency-Key header required"}
        if not isinstance(record, dict) or any(v in (None, "") for v in record.values()):
            return 422, {"error": "every field is required"}
        with self._lock:
            self.records[path][key] = record
        return 201, {"stored": key}
