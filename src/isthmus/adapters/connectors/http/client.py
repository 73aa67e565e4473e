"""HTTP target: one request per message, the idempotency key in a header.

Answers decide retries on the error type: 2xx delivered; 408, 425, 429 and 5xx, timeouts and
refused connections are ``TargetUnavailable`` (retried with backoff); any other 4xx is
``TargetRejected`` (dead-lettered at once). An OAuth 2.0 token (client credentials, RFC 6749 §4.4)
is cached until shortly before ``expires_in`` and fetched again once after a 401.
"""

from __future__ import annotations

import json
import threading
import time

import httpx

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


class HttpTarget:
    """Satisfies ``isthmus.integration.Target``."""

    def __init__(self, config: HttpConfig, timeout_s: float) -> None:
        self.config = config
        verify: bool | str = config.ca_file if config.ca_file else config.verify
        self._client = httpx.Client(timeout=timeout_s, verify=verify)
        self.token = OAuthToken(self._client, config) if config.auth == "oauth2" else None

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
        return json.dumps(message.payload, ensure_ascii=False).encode()

    def _request(self, message: Outbound, *, fresh_token: bool = False) -> httpx.Response:
        auth = (
            (self.config.username, self.config.password.get_secret_value())
            if self.config.auth == "basic"
            else None
        )
        try:
            return self._client.request(
                self.config.method,
                self.config.url,
                content=self._body(message),
                headers=self._headers(message, fresh_token=fresh_token),
                auth=auth,
                timeout=message.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise TargetUnavailable(
                "{url}: timed out after {s} s", url=self.config.url, s=message.timeout_s
            ) from exc
        except httpx.HTTPError as exc:
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
        self._client.close()
