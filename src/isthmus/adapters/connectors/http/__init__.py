"""HTTP (REST/JSON or XML) connector: outbound with httpx — OAuth 2.0 client credentials, API key, basic."""

from isthmus.adapters.connectors.http.client import HttpTarget, OAuthToken
from isthmus.adapters.connectors.http.config import HttpConfig

__all__ = ["HttpConfig", "HttpTarget", "OAuthToken"]
