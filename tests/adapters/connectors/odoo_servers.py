"""Loopback servers that answer like Odoo: ``common.login`` → a uid, ``object.execute_kw`` on
``sale.order`` (create with a unique ``client_order_ref``), over JSON-RPC (a small ``http.server``)
and XML-RPC (the standard library's ``MultiPathXMLRPCServer``). Sessions can be expired and faults
injected; every call is counted."""

from __future__ import annotations

import base64
import json
import socketserver
import threading
import xmlrpc.client
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xmlrpc.server import MultiPathXMLRPCServer, SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler


def _add(store: list[Any], value: Any) -> int:
    store.append(value)
    return len(store)


class OdooFault(Exception):
    """An error the emulated ERP raises; ``name`` is Odoo's exception class."""

    def __init__(self, name: str, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.name, self.message, self.code = name, message, code


class FakeOdoo:
    """The business side shared by both protocols."""

    DB, USER, PASSWORD = "erp", "isthmus", "s3cret"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.logins = 0
        self.calls = 0
        self.valid_uids: set[int] = set()
        self.next_uid = 7
        self.faults: list[OdooFault] = []  # raised by the next execute_kw calls, in order
        self.lines: list[dict[str, Any]] = []  # account.move.line, read with search_read
        self.reads: list[dict[str, Any]] = []
        self.returned = 0  # records search_read answered with, all calls

    def login(self, db: str, user: str, password: str, *_: Any) -> int | bool:
        with self.lock:
            self.logins += 1
            if (db, user, password) != (self.DB, self.USER, self.PASSWORD):
                return False
            self.valid_uids.add(self.next_uid)
            return self.next_uid

    def _read(self, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if method == "fields_get":
            return {name: {"type": kind} for name, kind in LINE_TYPES.items()}
        self.reads.append(kwargs)
        domain = args[0] if args else []
        found = [r for r in self.lines if matches(r, domain)]
        found.sort(key=lambda r: (r["write_date"], r["id"]))
        limit = kwargs.get("limit") or len(found)
        fields = kwargs.get("fields") or list(LINE_TYPES)
        self.returned += len(found[:limit])
        return [{f: r[f] for f in fields} for r in found[:limit]]

    def add_line(self, name: str, amount: float, write_date: str, **extra: Any) -> None:
        with self.lock:
            record = {"id": len(self.lines) + 1, "name": name, "amount": amount, "write_date": write_date,
                      "partner_id": False, "ref": False, "paid": False} | extra  # fmt: skip
            self.lines.append(record)

    def expire_sessions(self) -> None:
        with self.lock:
            self.valid_uids.clear()
            self.next_uid += 1

    def execute_kw(
        self,
        db: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> Any:
        with self.lock:
            self.calls += 1
            if uid not in self.valid_uids or password != self.PASSWORD:
                raise OdooFault("odoo.exceptions.AccessDenied", "Access Denied", 3)
            if self.faults:
                raise self.faults.pop(0)
            if model == "account.move.line" and method in ("search_read", "fields_get"):
                return self._read(method, args, kwargs)
            if (model, method) != ("sale.order", "create"):
                raise OdooFault("odoo.exceptions.MissingError", f"no method {model}.{method}")
            values = dict(args[0]) if args else dict(kwargs)
            ref = str(values.get("client_order_ref", len(self.orders)))
            if ref in self.orders:
                raise OdooFault(
                    "odoo.exceptions.ValidationError",
                    f'duplicate key value violates unique constraint "sale_order_client_order_ref_uniq": {ref}',
                )
            if not values.get("partner_id"):
                raise OdooFault("odoo.exceptions.ValidationError", "partner_id is required")
            self.orders[ref] = values
            return len(self.orders)


LINE_TYPES = {"id": "integer", "name": "char", "amount": "float", "write_date": "datetime",
              "partner_id": "many2one", "ref": "char", "paid": "boolean"}  # fmt: skip
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def matches(record: dict[str, Any], domain: list[Any]) -> bool:
    """Odoo's domain in Polish notation: ``'|'``, ``'&'``, ``'!'`` prefix operators, terms
    ``[field, op, value]``, consecutive terms ANDed."""

    def term(position: int) -> tuple[bool, int]:
        item = domain[position]
        if item == "!":
            value, end = term(position + 1)
            return not value, end
        if item in ("|", "&"):
            left, middle = term(position + 1)
            right, end = term(middle)
            return (left or right) if item == "|" else (left and right), end
        field, op, value = item
        return _OPS[op](record[field], value), position + 1

    position = 0
    while position < len(domain):
        value, position = term(position)
        if not value:
            return False
    return True


class _Server:
    server: socketserver.TCPServer

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class JsonRpcServer(_Server):
    """Odoo's ``/jsonrpc`` and a plain JSON-RPC endpoint ``/rpc`` (methods ``orders.create`` with
    named params, ``orders.add`` with positional ones; basic auth when ``basic`` is set)."""

    def __init__(self, basic: tuple[str, str] | None = None) -> None:
        self.odoo = FakeOdoo()
        self.plain: list[Any] = []
        self.status_next: list[int] = []
        self.errors_next: list[dict[str, Any]] = []
        self.basic = basic
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.status_next:
                    self._send(outer.status_next.pop(0), b"busy")
                    return
                if outer.basic is not None:
                    expected = "Basic " + base64.b64encode(":".join(outer.basic).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        self._send(401, b"unauthorized")
                        return
                reply = {"jsonrpc": "2.0", "id": body["id"]} | outer.answer(self.path, body)
                self._send(200, json.dumps(reply).encode())

            def _send(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.errors_next:
            return {"error": self.errors_next.pop(0)}
        if path == "/jsonrpc":
            return self._odoo(body["params"])
        methods: dict[str, Callable[..., Any]] = {
            "orders.create": lambda **kw: _add(self.plain, kw),
            "orders.add": lambda *args: _add(self.plain, list(args)),
            "system.version": lambda: "1.0",
        }
        method = methods.get(body["method"])
        if method is None:
            return {"error": {"code": -32601, "message": "Method not found"}}
        params = body.get("params", [])
        return {"result": method(**params) if isinstance(params, dict) else method(*params)}

    def _odoo(self, params: dict[str, Any]) -> dict[str, Any]:
        service, method, args = params["service"], params["method"], params["args"]
        try:
            if service == "common" and method in {"login", "authenticate"}:
                return {"result": self.odoo.login(*args)}
            if service == "object" and method == "execute_kw":
                return {"result": self.odoo.execute_kw(*args)}
        except OdooFault as fault:
            data = {"name": fault.name, "message": fault.message, "debug": "Traceback …"}
            return {"error": {"code": 200, "message": "Odoo Server Error", "data": data}}
        return {"error": {"code": -32601, "message": f"no {service}.{method}"}}

    def __enter__(self) -> JsonRpcServer:
        self.start()
        return self


class XmlRpcServer(_Server):
    """Odoo's ``/xmlrpc/2/common`` and ``/xmlrpc/2/object`` on the standard library's server, and a
    plain endpoint ``/RPC2`` with ``orders.add(order)``."""

    def __init__(self) -> None:
        self.odoo = FakeOdoo()
        self.plain: list[Any] = []

        def odoo_call(function: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any) -> Any:
                try:
                    return function(*args)
                except OdooFault as fault:  # Odoo's own mapping: the code, then the message
                    raise xmlrpc.client.Fault(fault.code, f"{fault.name}: {fault.message}") from fault

            return call

        class Handler(SimpleXMLRPCRequestHandler):
            rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object", "/RPC2")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = MultiPathXMLRPCServer(
            ("127.0.0.1", 0), requestHandler=Handler, allow_none=True, logRequests=False
        )
        common = SimpleXMLRPCDispatcher(allow_none=True)
        common.register_function(odoo_call(self.odoo.login), "login")
        common.register_function(lambda: {"server_version": "17.0"}, "version")
        obj = SimpleXMLRPCDispatcher(allow_none=True)
        obj.register_function(odoo_call(self.odoo.execute_kw), "execute_kw")
        plain = SimpleXMLRPCDispatcher(allow_none=True)
        plain.register_function(lambda order: _add(self.plain, order), "orders.add")
        self.server.add_dispatcher("/xmlrpc/2/common", common)
        self.server.add_dispatcher("/xmlrpc/2/object", obj)
        self.server.add_dispatcher("/RPC2", plain)

    def __enter__(self) -> XmlRpcServer:
        self.start()
        return self


class TrytonServer(_Server):
    """Tryton's JSON-RPC at ``/<db>/``: ``common.db.login(login, {"password"})`` → ``[user, session]``;
    every other method needs ``Authorization: Session base64(login:user:session)`` (else HTTP 401);
    ``model.sale.sale.create(vlist, context)`` stores the records."""

    DB, USER, PASSWORD, USER_ID = "tryton", "admin", "tryton-pw", 1

    def __init__(self) -> None:
        self.sales: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.logins = 0
        self.session = "s-1"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, reply = outer.answer(self.path, body, self.headers.get("Authorization"))
                data = json.dumps({"id": body["id"]} | reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def header(self) -> str:
        token = f"{self.USER}:{self.USER_ID}:{self.session}"
        return "Session " + base64.b64encode(token.encode()).decode()

    def expire(self) -> None:
        self.session = f"s-{int(self.session[2:]) + 1}"

    def answer(
        self, path: str, body: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        if path != f"/{self.DB}/":
            return 404, {}
        method, params = body["method"], body["params"]
        if method == "common.db.login":
            self.logins += 1
            login, parameters = params[0], params[1]
            if (login, parameters.get("password")) != (self.USER, self.PASSWORD):
                return 200, {"error": ["LoginException", ["password", "Password", "invalid"]]}
            return 200, {"result": [self.USER_ID, self.session]}
        if authorization != self.header():
            return 401, {}
        if method == "model.sale.sale.create":
            vlist, context = params
            self.sales.extend(vlist)
            self.contexts.append(context)
            return 200, {"result": list(range(len(self.sales) - len(vlist) + 1, len(self.sales) + 1))}
        return 200, {"error": ["NotImplementedError", [method]]}

    def __enter__(self) -> TrytonServer:
        self.start()
        return self
