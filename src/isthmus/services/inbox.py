"""The task inbox: my tasks, my groups' tasks, claim/unclaim, delegate, comment, attach, complete.

Rules: only a candidate (a named candidate user, or a member of a candidate group = one of the
principal's role names) may claim; only the assignee — or, for an unassigned task, a candidate —
may complete; when the node is marked four-eyes, the person who started the instance may not
complete it. Completing runs the engine step in the same transaction.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from isthmus.engine import Interpreter, Notification, TaskQuery, TaskState, UserTask
from isthmus.errors import Conflict, InvalidInput, IsthmusError, NotFound, PayloadTooLarge, PermissionDenied
from isthmus.security import Principal, Role
from isthmus.services import audit
from isthmus.services.engine_steps import Stepper
from isthmus.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

OBJECT = "user_task"
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._\-\u4e00-\u9fff]+")


class TaskForbidden(PermissionDenied):
    """A task rule (candidates, assignee, four-eyes) forbids this; HTTP 403 like any permission."""

    code = "task_forbidden"

    def __init__(self, template: str, **params: Any) -> None:
        IsthmusError.__init__(self, template, **params)
        self.permission = "task:work"


def groups_of(principal: Principal) -> frozenset[str]:
    return frozenset(str(role.value) for role in principal.roles)


def is_candidate(task: UserTask, principal: Principal) -> bool:
    if Role.ADMIN in principal.roles:
        return True
    if principal.actor in task.candidate_users or task.assignee == principal.actor:
        return True
    if not task.candidate_groups and not task.candidate_users:
        return True  # nobody named: anyone who may work tasks
    return bool(groups_of(principal).intersection(task.candidate_groups))


class TaskService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, stepper: Stepper, files: Path) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._stepper = stepper
        self._files = files

    def list(
        self,
        principal: Principal,
        *,
        instance_id: str | None = None,
        mine: bool = False,
        everything: bool = False,
        limit: int = 200,
    ) -> list[UserTask]:
        """Open tasks: ``mine`` = assigned to me; default = assigned to me or claimable by me;
        ``everything`` (instance readers) = all open tasks."""
        if everything or instance_id is not None:
            principal.require("instance:read")
            query = TaskQuery(instance_id=instance_id, limit=limit)
        else:
            principal.require("task:work")
            query = TaskQuery(
                user=principal.actor, groups=groups_of(principal), assigned_only=mine, limit=limit
            )
        with self._uow() as uow:
            return uow.user_tasks.find(query)

    def notifications(self, principal: Principal, *, limit: int = 50) -> builtins.list[Notification]:
        """Unread escalation notices for me or one of my groups (``isthmus:escalate notify:…``)."""
        principal.require("task:work")
        with self._uow() as uow:
            return uow.notifications.for_recipients(principal.actor, groups_of(principal), limit=limit)

    def dismiss(self, principal: Principal, notification_id: int) -> None:
        """Mark one of my notices read; someone else's is ``NotFound``."""
        principal.require("task:work")
        with self._uow() as uow:
            mine = uow.notifications.for_recipients(principal.actor, groups_of(principal), limit=10_000)
            if not any(n.id == notification_id for n in mine):
                raise NotFound("no notification {id} for you", id=notification_id)
            uow.notifications.mark_read(notification_id, self._clock.now())
            uow.commit()

    def get(self, principal: Principal, task_id: int) -> UserTask:
        principal.require("task:work")
        with self._uow() as uow:
            return _task(uow, task_id)

    def claim(self, principal: Principal, task_id: int) -> UserTask:
        principal.require("task:work")
        return self._change(principal, task_id, "task.claim", lambda t: self._claimed(t, principal))

    def _claimed(self, task: UserTask, principal: Principal) -> UserTask:
        if task.assignee is not None and task.assignee != principal.actor:
            raise Conflict("task {id} is already claimed by {user}", id=task.id, user=task.assignee)
        if not is_candidate(task, principal):
            raise TaskForbidden("{user} is not a candidate for task {id}", user=principal.actor, id=task.id)
        return replace(task, assignee=principal.actor)

    def unclaim(self, principal: Principal, task_id: int) -> UserTask:
        principal.require("task:work")

        def release(task: UserTask) -> UserTask:
            if task.assignee != principal.actor and Role.ADMIN not in principal.roles:
                raise TaskForbidden("only the assignee may give task {id} back", id=task.id)
            return replace(task, assignee=None)

        return self._change(principal, task_id, "task.unclaim", release)

    def delegate(self, principal: Principal, task_id: int, to_user: str) -> UserTask:
        principal.require("task:work")

        def hand_over(task: UserTask) -> UserTask:
            if task.assignee not in (principal.actor, None) and Role.ADMIN not in principal.roles:
                raise TaskForbidden("only the assignee may delegate task {id}", id=task.id)
            if task.assignee is None and not is_candidate(task, principal):
                raise TaskForbidden(
                    "{user} is not a candidate for task {id}", user=principal.actor, id=task.id
                )
            return replace(task, assignee=to_user)

        return self._change(principal, task_id, "task.delegate", hand_over)

    def comment(self, principal: Principal, task_id: int, text: str) -> UserTask:
        principal.require("task:work")
        if not text.strip():
            raise InvalidInput("a comment needs text", field="text")
        entry = {"by": principal.actor, "at": self._clock.now().isoformat(), "text": text.strip()[:4000]}
        return self._change(
            principal, task_id, "task.comment", lambda t: replace(t, comments=(*t.comments, entry))
        )

    def attach(self, principal: Principal, task_id: int, filename: str, content: bytes) -> UserTask:
        """Store a small file under the data dir (``tasks/<id>/``) and list it on the task."""
        principal.require("task:work")
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise PayloadTooLarge("attachment is larger than {limit} bytes", limit=MAX_ATTACHMENT_BYTES)
        safe = _SAFE_NAME.sub("_", Path(filename).name)[:120] or "file"
        folder = self._files / "tasks" / str(task_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / safe).write_bytes(content)
        entry = {
            "name": safe,
            "size": len(content),
            "by": principal.actor,
            "at": self._clock.now().isoformat(),
        }
        return self._change(
            principal, task_id, "task.attach", lambda t: replace(t, attachments=(*t.attachments, entry))
        )

    def attachment_path(self, principal: Principal, task_id: int, name: str) -> Path:
        task = self.get(principal, task_id)
        if name not in {a["name"] for a in task.attachments}:
            raise NotFound("task {id} has no attachment {name}", id=task_id, name=name)
        return self._files / "tasks" / str(task_id) / name

    def complete(
        self, principal: Principal, task_id: int, variables: Mapping[str, Any] | None = None
    ) -> UserTask:
        """Validate the form values, check who may complete, then run the engine step."""
        principal.require("task:work")
        with self._uow() as uow:
            task = _task(uow, task_id)
            self._check_completer(task, principal)
            values = validate_form(task.form, dict(variables or {}))
            token, activation = task.token, task.activation
            self._stepper.step(
                uow, task.instance_id, lambda w: w.complete(token, values, activation), actor=principal.actor
            )
            done = _task(uow, task_id)
            audit.record(
                uow,
                self._clock,
                principal,
                "task.complete",
                OBJECT,
                str(task_id),
                after={"variables": values},
            )
            uow.commit()
        return done

    def complete_many(self, principal: Principal, items: builtins.list[tuple[int, Mapping[str, Any]]]) -> int:
        """Complete several tasks (of different instances) in one transaction: the same checks as
        :meth:`complete`, one commit for all — what a batch client uses for throughput. Any refusal
        rolls the whole batch back."""
        principal.require("task:work")
        with self._uow() as uow:
            preload = getattr(uow.user_tasks, "preload", None)
            if preload is not None:  # storage that can read the whole batch at once
                preload([task_id for task_id, _ in items])
            for task_id, variables in items:
                task = _task(uow, task_id)
                self._check_completer(task, principal)
                values = validate_form(task.form, dict(variables))
                token, activation = task.token, task.activation
                self._stepper.step(
                    uow, task.instance_id, _completion(token, values, activation), actor=principal.actor
                )
            audit.record(
                uow, self._clock, principal, "task.complete_many", OBJECT, "*", after={"tasks": len(items)}
            )
            uow.commit()
        return len(items)

    def _check_completer(self, task: UserTask, principal: Principal) -> None:
        if task.state is not TaskState.OPEN:
            raise Conflict("task {id} is {state}", id=task.id, state=task.state.value)
        if task.four_eyes and task.initiator == principal.actor:
            raise TaskForbidden(
                "four-eyes: {user} started this request and may not complete task {id}",
                user=principal.actor,
                id=task.id,
            )
        if (
            task.assignee is not None
            and task.assignee != principal.actor
            and Role.ADMIN not in principal.roles
        ):
            raise TaskForbidden("task {id} is assigned to {user}", id=task.id, user=task.assignee)
        if task.assignee is None and not is_candidate(task, principal):
            raise TaskForbidden("{user} is not a candidate for task {id}", user=principal.actor, id=task.id)

    def _change(self, principal: Principal, task_id: int, action: str, change: Any) -> UserTask:
        with self._uow() as uow:
            task = _task(uow, task_id)
            if task.state is not TaskState.OPEN:
                raise Conflict("task {id} is {state}", id=task.id, state=task.state.value)
            changed: UserTask = change(task)
            uow.user_tasks.update(changed)
            audit.record(
                uow,
                self._clock,
                principal,
                action,
                OBJECT,
                str(task_id),
                before={"assignee": task.assignee},
                after={"assignee": changed.assignee},
            )
            uow.commit()
        return changed


def _completion(token: int, values: dict[str, Any], activation: int) -> Callable[[Interpreter], object]:
    return lambda w: w.complete(token, values, activation)


def _task(uow: UnitOfWork, task_id: int) -> UserTask:
    found = uow.user_tasks.get(task_id)
    if found is None:
        raise NotFound("no task {id}", id=task_id)
    return found


def validate_form(form: tuple[dict[str, Any], ...], values: dict[str, Any]) -> dict[str, Any]:
    """Check and convert form values server-side: required fields, types, enum options. Values for
    names outside the form pass through unchanged (API clients may set other variables)."""
    problems: list[str] = []
    out = dict(values)
    for field in form:
        name = field["id"]
        raw = values.get(name)
        if raw is None or raw == "":
            if field.get("required"):
                problems.append(f"{name}: required")
            if raw == "":
                out.pop(name, None)
            continue
        try:
            out[name] = _convert(field, raw)
        except ValueError as error:
            problems.append(f"{name}: {error}")
    if problems:
        raise InvalidInput("the form has problems: {problems}", problems="; ".join(problems))
    return out


def _number(kind: str, raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"expected a number, got {raw!r}") from None
    whole = number == number.to_integral_value()
    if kind == "long" and not whole:
        raise ValueError("expected a whole number")
    return int(number) if whole else float(number)


def _convert(field: Mapping[str, Any], raw: Any) -> Any:
    kind = field.get("type", "string")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "on", "1", "yes"):
            return True
        if str(raw).lower() in ("false", "off", "0", "no"):
            return False
        raise ValueError("expected true or false")
    if kind in ("long", "number"):
        return _number(kind, raw)
    if kind == "date":
        return date.fromisoformat(str(raw)).isoformat()
    if kind == "enum":
        options = field.get("options") or []
        if options and str(raw) not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return str(raw)
    return str(raw)
