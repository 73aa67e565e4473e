"""What the JSON-RPC and XML-RPC connectors share: the options, the parameters built from a mapped
payload, Odoo-style sessions and the fault table that decides retries.

ERPs such as Odoo and Tryton expose the same shape over both protocols: log in once
(``common.login(db, user, password)`` → a uid), then call ``object.execute_kw(db, uid, password,
model, method, args, kwargs)``. Only the wire format differs, so each connector supplies a
:class:`Transport` (one remote call) and :class:`RpcTarget` does the rest.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from isthmus.errors import ConfigurationError
from isthmus.integration import Outbound, TargetRejected, TargetUnavailable

RETRYABLE_STATUS = frozenset({408, 425, 429})
# JSON-RPC 2.0 §5.1 (and the XML-RPC fault codes of specs.xmlrpc.com/spec): the request itself is
# wrong — sending it again cannot help.
CLIENT_FAULT_CODES = frozenset({-32700, -32600, -32601, -32602})
# -32603 (internal error) and the reserved server-error range -32000..-32099: the server failed.
SERVER_FAULT_CODES = frozenset({-32603, *range(-32099, -31999)})
PROBE_METHOD = "isthmus.ping"  # called by "test connection" when no ping_method is set
DEFAULT_RETRY_FAULTS = (
    r"OperationalError",
    r"SerializationFailure",
    r"TransactionRollbackError",
    r"LockNotAvailable",
    r"could not serialize access",
    r"[Tt]emporarily unavailable",
    r"[Tt]imed? ?out",
    r"RateLimitException",  # Tryton: too many logins, try later
)
DEFAULT_SESSION_FAULTS = (r"SessionExpired", r"[Ss]ession expired", r"AccessDenied")


class RpcConfig(BaseModel):
    """Options of an RPC target (``target.options`` of a flow, over the registry's settings).

    ``method`` is the remote method; with ``auth: odoo`` it is the model's method (``create``,
    ``write`` …) called through ``object.execute_kw`` on ``model``. ``params``: ``named`` sends the
    payload as keyword arguments (a JSON object; for XML-RPC one struct), ``positional`` sends the
    fields listed in ``param_order`` in that order (or the whole payload as the one argument when
    the list is empty). ``idempotency_param`` adds the message's idempotency key to the payload
    under that name; a fault matching ``duplicate_faults`` (the target's unique constraint on that
    field) means an earlier attempt already had its effect and counts as delivered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    method: str
    model: str = ""
    params: Literal["named", "positional"] = "named"
    param_order: list[str] = []
    auth: Literal["none", "basic", "odoo", "tryton"] = "none"
    database: str = ""
    username: str = ""
    password: SecretStr = SecretStr("")
    login_method: Literal["login", "authenticate"] = "login"
    idempotency_param: str = ""
    duplicate_faults: list[str] = []
    retry_faults: list[str] = list(DEFAULT_RETRY_FAULTS)
    session_faults: list[str] = list(DEFAULT_SESSION_FAULTS)
    ping_method: str = ""
    context: dict[str, Any] = {}
    as_list: bool = False
    ca_file: str | None = None
    verify: bool = True
    headers: dict[str, str] = {}

    def check(self) -> RpcConfig:
        """Options that validate one by one but cannot work together."""
        if self.auth == "odoo" and not (self.model and self.database and self.username):
            raise ConfigurationError("auth odoo needs model, database and username")
        if self.auth == "tryton" and (self.params != "positional" or not self.username):
            raise ConfigurationError(
                "auth tryton needs username and params: positional (Tryton has no named params)"
            )
        return self

    def httpx_client(self, timeout_s: float) -> httpx.Client:
        verify: bool | str = self.ca_file if self.ca_file else self.verify
        auth = (self.username, self.password.get_secret_value()) if self.auth == "basic" else None
        return httpx.Client(timeout=timeout_s, verify=verify, auth=auth, headers=self.headers)


class RemoteFault(Exception):
    """A fault the server answered with (JSON-RPC ``error``, XML-RPC ``<fault>``)."""

    def __init__(self, code: int | str | None, message: str, name: str = "") -> None:
        super().__init__(code, message, name)
        self.code = code
        self.message = message
        self.name = name

    def text(self) -> str:
        return f"{self.code} {self.name} {self.message}".strip()


class Transport(Protocol):
    """One remote call. ``service`` is Odoo's service name (``common``, ``object``) or "" for a
    plain call of ``method``. Raises :class:`RemoteFault` for a fault the server answered with,
    ``TargetUnavailable``/``TargetRejected`` for transport failures (HTTP status, timeout)."""

    def call(self, service: str, method: str, params: Any, timeout_s: float) -> Any: ...

    def authorize(self, value: str | None) -> None:
        """Send ``Authorization: value`` with every later call (None: stop sending it)."""

    def close(self) -> None: ...


def http_failure(url: str, error: httpx.HTTPError, timeout_s: float) -> TargetUnavailable:
    """A request that got no answer: always worth trying again."""
    if isinstance(error, httpx.TimeoutException):
        return TargetUnavailable("{url}: timed out after {s} s", url=url, s=timeout_s)
    return TargetUnavailable("{url}: {error}", url=url, error=f"{type(error).__name__}: {error}")


def check_status(url: str, answer: httpx.Response) -> None:
    """HTTP status before the body: 5xx/408/425/429 transient, any other non-2xx terminal."""
    status = answer.status_code
    if status < 300:
        return
    detail = answer.text[:200]
    if status >= 500 or status in RETRYABLE_STATUS:
        raise TargetUnavailable("{url} answered {status}: {detail}", url=url, status=status, detail=detail)
    raise TargetRejected("{url} answered {status}: {detail}", url=url, status=status, detail=detail)


def _matches(patterns: Sequence[str], text: str) -> bool:
    return any(re.search(p, text) for p in patterns)


class RpcTarget:
    """Satisfies ``isthmus.integration.Target`` over a :class:`Transport`; thread-safe."""

    def __init__(self, config: RpcConfig, transport: Transport, timeout_s: float) -> None:
        self.config = config.check()
        self._transport = transport
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._uid: Any = None
        self.logins = 0

    # -- parameters --------------------------------------------------------------------------------

    def arguments(self, message: Outbound) -> tuple[list[Any], dict[str, Any]]:
        """Positional and named arguments built from the mapped payload."""
        payload = dict(message.payload)
        if self.config.idempotency_param:
            payload[self.config.idempotency_param] = message.idempotency_key
        if self.config.params == "named":
            return [], payload
        if not self.config.param_order:
            return [[payload] if self.config.as_list else payload], {}
        missing = [f for f in self.config.param_order if f not in payload]
        if missing:
            raise TargetRejected(
                "payload lacks the positional parameter(s) {fields}", fields=", ".join(missing)
            )
        return [payload[f] for f in self.config.param_order], {}

    # -- sessions ----------------------------------------------------------------------------------

    def _login(self, timeout_s: float, *, again: bool = False) -> Any:
        with self._lock:
            if self._uid is None or again:
                config = self.config
                args: list[Any] = [config.database, config.username, config.password.get_secret_value()]
                if config.login_method == "authenticate":
                    args.append({})  # Odoo's authenticate(db, login, password, user_agent_env)
                uid = self._call("common", config.login_method, args, timeout_s)
                if not uid:
                    raise TargetRejected(
                        "{url}: login as {user} on {db} refused",
                        url=config.url,
                        user=config.username,
                        db=config.database,
                    )
                self._uid = uid
                self.logins += 1
            return self._uid

    def _tryton_login(self, timeout_s: float, *, again: bool = False) -> Any:
        """Tryton's ``common.db.login(login, {"password": …})`` → ``[user_id, session]``, sent back
        as ``Authorization: Session base64(login:user_id:session)`` on every later call."""
        with self._lock:
            if self._uid is None or again:
                config = self.config
                secret = {"password": config.password.get_secret_value()}
                try:
                    answer = self._call("", "common.db.login", [config.username, secret], timeout_s)
                except RemoteFault as fault:  # LoginException (terminal), RateLimitException (later)
                    self.raise_for(fault)
                    raise AssertionError("a login fault cannot be a duplicate") from fault
                if not (isinstance(answer, list) and len(answer) == 2):
                    raise TargetRejected(
                        "{url}: login as {user} refused", url=config.url, user=config.username
                    )
                user_id, session = answer
                token = base64.b64encode(f"{config.username}:{user_id}:{session}".encode()).decode()
                self._transport.authorize(f"Session {token}")
                self._uid = user_id
                self.logins += 1
            return self._uid

    def _tryton(self, args: list[Any], timeout_s: float) -> Any:
        """A Tryton call (the context last), logging in again once when the session expired (401/403)."""
        for attempt in (1, 2):
            self._tryton_login(timeout_s, again=attempt == 2)
            try:
                return self._call("", self.config.method, [*args, dict(self.config.context)], timeout_s)
            except TargetRejected as error:
                if attempt == 1 and error.params.get("status") in (401, 403):
                    continue
                raise
        raise AssertionError("unreachable")

    def _call(self, service: str, method: str, params: Any, timeout_s: float) -> Any:
        return self._transport.call(service, method, params, timeout_s)

    def invoke(self, args: list[Any], kwargs: dict[str, Any], timeout_s: float) -> Any:
        """Call the configured method once (logging in first, and once more on an expired session)."""
        config = self.config
        if config.auth == "tryton":
            return self._tryton(args, timeout_s)
        if config.auth != "odoo":
            params: Any = kwargs if config.params == "named" else args
            return self._call("", config.method, params, timeout_s)
        return self.execute(config.method, args, kwargs, timeout_s)

    def execute(self, method: str, args: list[Any], kwargs: dict[str, Any], timeout_s: float) -> Any:
        """Odoo's ``execute_kw`` of ``method`` on the configured model, in a session."""
        config = self.config
        for attempt in (1, 2):
            uid = self._login(timeout_s, again=attempt == 2)
            secret = config.password.get_secret_value()
            call = [config.database, uid, secret, config.model, method, args, kwargs]
            try:
                return self._call("object", "execute_kw", call, timeout_s)
            except RemoteFault as fault:
                if attempt == 1 and _matches(config.session_faults, fault.text()):
                    continue  # the session (uid) expired: log in again, once
                raise
        raise AssertionError("unreachable")

    # -- Target ------------------------------------------------------------------------------------

    def send(self, message: Outbound) -> None:
        args, kwargs = self.arguments(message)
        try:
            self.invoke(args, kwargs, message.timeout_s)
        except RemoteFault as fault:
            self.raise_for(fault)

    def raise_for(self, fault: RemoteFault) -> None:
        """The fault table: a duplicate is success, a retryable fault Transient, the rest Terminal."""
        text = fault.text()
        if self.config.duplicate_faults and _matches(self.config.duplicate_faults, text):
            return  # an earlier attempt already created it (unique constraint on idempotency_param)
        detail = fault.message[:300]
        code = " ".join(str(part) for part in (fault.code, fault.name) if part not in (None, ""))
        if fault.code in SERVER_FAULT_CODES or _matches(self.config.retry_faults, text):
            raise TargetUnavailable(
                "{url}: fault {code}: {detail}", url=self.config.url, code=code, detail=detail
            )
        raise TargetRejected("{url}: fault {code}: {detail}", url=self.config.url, code=code, detail=detail)

    def ping(self) -> str:
        """Log in (Odoo), call ``ping_method``, or else call a method no server has: any RPC answer,
        a fault included, proves the endpoint speaks the protocol and took the credentials (an
        HTTP 401/403 or no answer raises). A short description of what answered."""
        try:
            if self.config.auth == "odoo":
                uid = self._login(self._timeout_s, again=True)
                return f"logged in as {self.config.username} (uid {uid})"
            if self.config.auth == "tryton":
                uid = self._tryton_login(self._timeout_s, again=True)
                return f"logged in as {self.config.username} (user {uid})"
            if self.config.ping_method:
                result = self._call("", self.config.ping_method, [], self._timeout_s)
                return f"{self.config.ping_method}: {str(result)[:100]}"
        except RemoteFault as fault:
            self.raise_for(fault)
            return "answered with a duplicate fault"
        try:
            self._call("", PROBE_METHOD, [], self._timeout_s)
        except RemoteFault as fault:
            return f"the endpoint answered (fault {fault.code}: {fault.message[:80]})"
        return "the endpoint answered"

    def close(self) -> None:
        self._transport.close()


def named_or_positional(params: Any) -> Mapping[str, Any] | list[Any]:
    """JSON-RPC 2.0 §4.2: params is a structured value, an object or an array."""
    if isinstance(params, Mapping):
        return dict(params)
    if isinstance(params, list | tuple):
        return list(params)
    raise TypeError(f"params must be a mapping or a sequence, not {type(params).__name__}")


class RpcSource:
    """Reads new and changed records of an Odoo model in batches, in ``(watermark, id)`` order.

    Keyset pagination: each batch asks for records after the last one seen — ``watermark`` greater,
    or equal with a greater ``id`` — so rows sharing a ``write_date`` are neither skipped nor read
    twice at a batch boundary. Odoo's values are made tabular: ``False`` in a non-boolean field is
    None, a many2one ``[id, "name"]`` is its id (types from ``fields_get``). The position
    (``last_watermark``) is a JSON object ``{"value": …, "id": …}``; the caller persists it only
    after the batch is stored.
    """

    def __init__(self, target: RpcTarget, options: RpcSourceOptions) -> None:
        self._target = target
        self._options = options
        self.last_watermark: dict[str, Any] | None = None

    def _types(self, timeout_s: float) -> dict[str, str]:
        try:
            fields = self._target.execute("fields_get", [], {"attributes": ["type"]}, timeout_s)
        except RemoteFault as fault:
            self._target.raise_for(fault)
            return {}
        return {str(name): str(spec.get("type", "")) for name, spec in dict(fields).items()}

    def _domain(self, after: dict[str, Any] | None) -> list[Any]:
        domain = list(self._options.domain)
        if after is None:
            return domain
        mark = self._options.watermark
        later = (mark, ">", after["value"])
        same = (mark, "=", after["value"])
        return [*domain, "|", later, "&", same, ("id", ">", after["id"])]

    def batches(
        self, *, after: Any = None, timeout_s: float = 60.0
    ) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        options = self._options
        types = self._types(timeout_s)
        self.last_watermark = after if isinstance(after, dict) else None
        fields = [*options.fields, options.watermark, "id"] if options.fields else []
        first_row = 1
        while True:
            kwargs = {
                "fields": fields,
                "order": f"{options.watermark} asc, id asc",
                "limit": options.batch_rows,
            }
            try:
                found = self._target.execute(
                    "search_read", [self._domain(self.last_watermark)], kwargs, timeout_s
                )
            except RemoteFault as fault:
                self._target.raise_for(fault)
                return
            records = [_tabular(r, types) for r in found or []]
            if not records:
                return
            last = found[-1]
            # The position after this batch, set before yielding it: the caller persists it once the
            # batch is stored, and may stop there (a generator resumes only for the next batch).
            self.last_watermark = {"value": last[options.watermark], "id": last["id"]}
            yield first_row, records
            first_row += len(records)
            if len(records) < options.batch_rows:
                return

    def close(self) -> None:
        self._target.close()


class RpcSourceOptions(BaseModel):
    """The part of a source's options that says what to read (the rest is :class:`RpcConfig`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    domain: list[Any] = []
    fields: list[str] = []
    watermark: str = "write_date"
    batch_rows: int = 500


def _tabular(record: Mapping[str, Any], types: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in record.items():
        kind = types.get(name, "")
        if value is False and kind != "boolean":
            value = None
        elif kind == "many2one" and isinstance(value, list | tuple) and value:
            value = value[0]
        row[name] = value
    return row
