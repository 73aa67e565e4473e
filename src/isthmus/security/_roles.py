"""Roles of the guide and what each may do, decided by the policy file, not by ``if`` chains.

The policy lives in ``policy/policy.csv`` (pycasbin's format) so an administrator can read and
review it; a permission is ``object:action``, e.g. ``catalog:write``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from enum import StrEnum
from functools import cache
from importlib import resources

import casbin

from isthmus.errors import InvalidInput, PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    PROCESS_OWNER = "process_owner"
    BUSINESS_EXPERT = "business_expert"
    IT_INTEGRATOR = "it_integrator"
    APPROVER = "approver"
    AUDITOR = "auditor"
    USER_REPRESENTATIVE = "user_representative"
    VIEWER = "viewer"

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower().replace("-", "_").replace(" ", "_"))
        except ValueError:
            raise InvalidInput(
                "unknown role {value!r}; expected one of {allowed}",
                value=text,
                allowed=", ".join(r.value for r in cls),
            ) from None


@cache
def _enforcer() -> casbin.Enforcer:
    policy_dir = resources.files("isthmus.security") / "policy"
    with (
        resources.as_file(policy_dir / "model.conf") as model,
        resources.as_file(policy_dir / "policy.csv") as pol,
    ):
        return casbin.Enforcer(str(model), str(pol))


# pycasbin's enforce is not thread-safe (concurrent calls from the API's thread pool raised
# "SystemError: AST constructor recursion depth mismatch") and re-parses its matcher on every call
# (~1 ms). The policy file is read once and never changes at run time, so each (role, permission)
# answer is computed once under a lock and then read from a dict.
_decided: dict[tuple[Role, str], bool] = {}
_enforce_lock = threading.Lock()


def _grants(role: Role, permission: str) -> bool:
    answer = _decided.get((role, permission))
    if answer is None:
        obj, _, act = permission.partition(":")
        with _enforce_lock:
            answer = bool(_enforcer().enforce(role.value, obj, act))
        _decided[(role, permission)] = answer
    return answer


def is_allowed(roles: Iterable[Role], permission: str) -> bool:
    """Whether any of ``roles`` grants ``permission`` (``object:action``)."""
    return any(_grants(role, permission) for role in roles)


def permissions_of(role: Role) -> list[str]:
    """The ``object:action`` pairs a role is granted, for display and documentation."""
    with _enforce_lock:
        policy = _enforcer().get_filtered_policy(0, role.value)
    return sorted(f"{obj}:{act}" for _, obj, act in policy)


def require(roles: Iterable[Role], permission: str, *, principal: str = "") -> None:
    if not is_allowed(roles, permission):
        raise PermissionDenied(permission, principal=principal)
