"""The one error tree of Isthmus.

Every failure the product reports to a person is an :class:`IsthmusError`. Domain code raises them
with structured fields; the edges translate them exactly once (``adapters/api/problems.py`` maps
them to RFC 9457 problem responses, ``adapters/cli/errors.py`` to exit codes and one-line
messages). Whether a job is retried is decided by the mixin, never by parsing a message::

    IsthmusError
    ├── InvalidInput            bad input from a person or a file (HTTP 400/422, exit 2)
    │   ├── SyntaxProblem       a text that does not parse (FEEL, XML, YAML …)
    │   └── PayloadTooLarge     an upload past its size limit (HTTP 413)
    ├── NotFound                an id that names nothing (HTTP 404, exit 2)
    ├── Conflict                a duplicate id or a stale version (HTTP 409, exit 2)
    ├── AuthenticationFailed    wrong password, unknown token, expired session (HTTP 401)
    │   └── Throttled           too many failures, try later (HTTP 429)
    ├── PermissionDenied        a principal without the permission, named (HTTP 403)
    ├── CsrfFailed              a browser form without the session's CSRF token (HTTP 403)
    ├── ConfigurationError      settings that cannot work (exit 2)
    └── IntegrationFailure      a remote system misbehaved (HTTP 502)

    Transient / Terminal        mixins: retry the work later, or give up at once
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Location:
    """Where in an input a problem sits; every part is optional."""

    file: str | None = None
    sheet: str | None = None
    line: int | None = None
    row: int | None = None
    column: int | str | None = None
    field: str | None = None

    def describe(self) -> str:
        """Render as ``file, sheet S, row 3, column "owner"`` — the prefix of one-line errors."""
        parts: list[str] = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "file": self.file,
                "sheet": self.sheet,
                "line": self.line,
                "column": self.column,
                "field": self.field,
            }.items()
            if v is not None
        }


class IsthmusError(Exception):
    """Base of every error Isthmus reports.

    ``template`` is an English message with ``{placeholders}`` filled from ``params``; it is also
    the gettext msgid, so an edge can show it in the user's language.
    """

    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Isthmus error"

    def __init__(
        self,
        template: str,
        *,
        location: Location | None = None,
        details: Sequence[IsthmusError] | None = None,
        **params: Any,
    ) -> None:
        self.template = template
        self.params: Mapping[str, Any] = params
        self.location = location
        self.details = list(details or [])
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.template.format(**self.params) if self.params else self.template
        where = self.location.describe() if self.location else ""
        return f"{where}: {text}" if where else text

    def as_dict(self) -> dict[str, Any]:
        """The structured form used in problem bodies and ``--json`` error output."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.location:
            body["location"] = self.location.as_dict()
        safe = {k: v for k, v in self.params.items() if isinstance(v, str | int | float | bool)}
        if safe:
            body["params"] = safe
        if self.details:
            body["errors"] = [d.as_dict() for d in self.details]
        return body


class Transient:
    """Mixin: the same work may succeed later (network blip, lock timeout); retry with backoff."""


class Terminal:
    """Mixin: retrying cannot help (bad data, a 4xx answer); stop and raise an incident."""


class InvalidInput(IsthmusError, Terminal):
    code = "invalid_input"
    title = "Invalid input"


class SyntaxProblem(InvalidInput):
    code = "syntax_error"
    title = "Syntax error"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    title = "Payload too large"


class NotFound(IsthmusError, Terminal):
    code = "not_found"
    title = "Not found"


class Conflict(IsthmusError, Terminal):
    code = "conflict"
    title = "Conflict"


class AuthenticationFailed(IsthmusError, Terminal):
    code = "authentication_failed"
    title = "Authentication failed"


class Throttled(AuthenticationFailed):
    code = "throttled"
    title = "Too many attempts"

    def __init__(self, template: str, *, retry_after_s: int, **params: Any) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(template, retry_after_s=retry_after_s, **params)


class PermissionDenied(IsthmusError, Terminal):
    code = "permission_denied"
    title = "Permission denied"

    def __init__(self, permission: str, *, principal: str = "") -> None:
        self.permission = permission
        super().__init__(
            "{principal} lacks the permission {permission}",
            permission=permission,
            principal=principal or "this user",
        )


class CsrfFailed(IsthmusError, Terminal):
    code = "csrf_failed"
    title = "CSRF check failed"


class ConfigurationError(IsthmusError, Terminal):
    code = "configuration_error"
    title = "Configuration error"


class IntegrationFailure(IsthmusError, Transient):
    code = "integration_failure"
    title = "Remote system failure"


def is_retryable(error: BaseException) -> bool:
    """Whether a job that failed with ``error`` should be tried again.

    Unknown exceptions (a bug, a dropped connection) are retried: the attempt budget bounds them.
    """
    return not isinstance(error, Terminal)
