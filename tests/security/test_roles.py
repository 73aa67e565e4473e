"""Least privilege per role, from the policy file."""

from __future__ import annotations

import pytest

from isthmus.security import Role, is_allowed, permissions_of


@pytest.mark.parametrize(
    ("role", "allowed", "denied"),
    [
        (Role.ADMIN, ["user:manage", "audit:read", "catalog:write"], []),
        (
            Role.PROCESS_OWNER,
            ["catalog:write", "catalog:import", "model:deploy"],
            ["audit:read", "user:manage"],
        ),
        (
            Role.BUSINESS_EXPERT,
            ["catalog:write", "model:write"],
            ["model:deploy", "catalog:import", "audit:read"],
        ),
        (Role.IT_INTEGRATOR, ["flow:deploy", "job:operate", "catalog:read"], ["catalog:write", "audit:read"]),
        (Role.APPROVER, ["task:work", "change:approve"], ["catalog:write", "change:request"]),
        (
            Role.AUDITOR,
            ["audit:read", "catalog:read", "job:read"],
            ["catalog:write", "job:operate", "task:work"],
        ),
        (Role.USER_REPRESENTATIVE, ["task:work", "catalog:read"], ["catalog:write", "audit:read"]),
        (Role.VIEWER, ["catalog:read"], ["catalog:write", "catalog:export", "audit:read", "task:work"]),
    ],
)
def test_each_role_has_what_it_needs_and_no_more(role: Role, allowed: list[str], denied: list[str]) -> None:
    for permission in allowed:
        assert is_allowed({role}, permission), permission
    for permission in denied:
        assert not is_allowed({role}, permission), permission


def test_auditor_is_read_only() -> None:
    actions = {p.split(":")[1] for p in permissions_of(Role.AUDITOR)}
    assert actions <= {"read", "export"}


def test_no_roles_means_no_permissions() -> None:
    assert not is_allowed(set(), "catalog:read")


def test_concurrent_checks_from_many_threads_agree_with_the_policy() -> None:
    """The API answers requests in a thread pool; pycasbin alone is not thread-safe there."""
    from concurrent.futures import ThreadPoolExecutor

    from isthmus.security import _roles

    pairs = [(role, f"{obj}:{act}") for role in Role for obj in ("catalog", "flow", "audit", "instance")
             for act in ("read", "write", "deploy", "operate")]  # fmt: skip
    expected = {pair: is_allowed([pair[0]], pair[1]) for pair in pairs}  # answered one at a time
    assert expected[(Role.ADMIN, "flow:deploy")]
    assert not expected[(Role.VIEWER, "flow:deploy")]
    _roles._decided.clear()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda pair: is_allowed([pair[0]], pair[1]), pairs * 20))
    assert answers == [expected[pair] for pair in pairs * 20]
