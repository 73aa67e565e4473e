"""Loading a WSDL for zeep through httpx (the connector's TLS settings and timeouts), not requests."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import httpx
from zeep.transports import Transport

from isthmus.adapters.connectors.rpc import check_status


class HttpxTransport(Transport):
    """zeep's transport with its loading done by our httpx client; zeep never sends with it."""

    def __init__(self, client: httpx.Client) -> None:
        super().__init__()
        self._http = client

    def _load_remote_data(self, url: str) -> bytes:
        if urlparse(url).scheme == "file":
            return Path(urlparse(url).path).read_bytes()
        answer = self._http.get(url)
        check_status(url, answer)  # a 404 is terminal, a 503 transient, as for messages
        return answer.content
