"""The navigation: the guide's six stages, and under each the pages that exist.

Pages register themselves (``register_page``) with the permission they need, so a later feature
adds one line and appears in the menu; stages with no page yet are shown as not yet available
rather than as dead links.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from isthmus.i18n import N_
from isthmus.security import Principal, is_allowed


class Stage(StrEnum):
    """The closed loop of DESIGN.md: discover → design → connect → run → measure → govern."""

    DISCOVER = "discover"
    DESIGN = "design"
    CONNECT = "connect"
    RUN = "run"
    MEASURE = "measure"
    GOVERN = "govern"


STAGE_LABELS: dict[Stage, str] = {
    Stage.DISCOVER: N_("Discover"),
    Stage.DESIGN: N_("Design"),
    Stage.CONNECT: N_("Connect"),
    Stage.RUN: N_("Run"),
    Stage.MEASURE: N_("Measure"),
    Stage.GOVERN: N_("Govern"),
}
STAGE_HINTS: dict[Stage, str] = {
    Stage.DISCOVER: N_("How processes run today: the catalog and its pain points."),
    Stage.DESIGN: N_("The to-be process in BPMN 2.0 and its decisions in DMN."),
    Stage.CONNECT: N_("Integration flows between ERP, CRM, OA, HR and finance."),
    Stage.RUN: N_("Process instances and the task inbox."),
    Stage.MEASURE: N_("KPIs before and after, alerts."),
    Stage.GOVERN: N_("Audit trail, users, jobs and incidents."),
}


@dataclass(frozen=True, slots=True)
class Page:
    """A page in the menu. ``label`` is an English msgid, translated when rendered."""

    stage: Stage
    key: str
    label: str
    path: str
    permission: str


@dataclass(frozen=True, slots=True)
class NavPage:
    page: Page
    active: bool


@dataclass(frozen=True, slots=True)
class NavStage:
    stage: Stage
    label: str
    hint: str
    pages: tuple[NavPage, ...]
    available: bool  # False: no page is registered for the stage yet
    active: bool

    @property
    def locked(self) -> bool:
        """Pages exist but this person may open none of them."""
        return self.available and not self.pages


_PAGES: dict[str, Page] = {}


def register_page(page: Page) -> Page:
    """Add ``page`` to the menu (idempotent per key, so re-imports do not duplicate it)."""
    _PAGES[page.key] = page
    return page


def registered_pages() -> list[Page]:
    return list(_PAGES.values())


def navigation(principal: Principal | None, current_path: str) -> list[NavStage]:
    """The menu for ``principal``: every stage, with only the pages its roles may open."""
    stages: list[NavStage] = []
    for stage in Stage:
        registered = [p for p in _PAGES.values() if p.stage is stage]
        allowed = [
            NavPage(p, _is_current(p.path, current_path))
            for p in registered
            if principal is not None and is_allowed(principal.roles, p.permission)
        ]
        stages.append(
            NavStage(
                stage=stage,
                label=STAGE_LABELS[stage],
                hint=STAGE_HINTS[stage],
                pages=tuple(allowed),
                available=bool(registered),
                active=any(p.active for p in allowed),
            )
        )
    return stages


def _is_current(path: str, current: str) -> bool:
    return current == path or current.startswith(path.rstrip("/") + "/")
