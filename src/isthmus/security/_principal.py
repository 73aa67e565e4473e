"""Who is acting: a signed-in user, an API token's owner, or the local operator at the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType

from isthmus.security._roles import Role, require

UserId = NewType("UserId", int)


class PrincipalKind(StrEnum):
    USER = "user"
    TOKEN = "token"
    CLI = "cli"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Principal:
    """``actor`` is what the audit trail records: the user name, or ``cli:<os user>``."""

    actor: str
    kind: PrincipalKind
    roles: frozenset[Role] = field(default_factory=frozenset)
    user_id: UserId | None = None
    display_name: str = ""
    language: str | None = None

    def require(self, permission: str) -> None:
        """Raise :class:`~isthmus.errors.PermissionDenied` naming ``permission`` when not granted."""
        require(self.roles, permission, principal=self.actor)


def cli_operator(os_user: str) -> Principal:
    """The local operator: whoever can open the database file or URL already holds every right."""
    return Principal(actor=f"cli:{os_user}", kind=PrincipalKind.CLI, roles=frozenset({Role.ADMIN}))


SYSTEM = Principal(actor="system", kind=PrincipalKind.SYSTEM, roles=frozenset({Role.ADMIN}))
