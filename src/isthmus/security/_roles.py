"""Roles of the guide and what each may do, decided by the policy file, not by ``if`` chains.

The policy lives in ``policy/policy.csv`` (pycasbin's format) so an administrator can read and
review it; a permission is ``object:action``, e.g. ``catalog:write``.
"""

from __future__ import annotations

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


def is_allowed(roles: Iterable[Role], permission: str) -> bool:
    """Whether any of ``roles`` grants ``permission`` (``object:action``)."""
    obj, _, act = permission.partition(":")
    enforcer = _enforcer()
    return any(enforcer.enforce(role.value, obj, act) for role in roles)


def permissions_of(role: Role) -> list[str]:
    """The ``object:action`` pairs a role is granted, for display and documentation."""
    return sorted(f"{obj}:{act}" for _, obj, act in _enforcer().get_filtered_policy(0, role.value))


def require(roles: Iterable[Role], permission: str, *, principal: str = "") -> None:
    if not is_allowed(roles, permission):
        raise PermissionDenied(permission, principal=principal)
