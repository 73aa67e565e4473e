"""The guide's own examples as demo data, and the demo users (one per role).

Loading is idempotent: existing processes and users are left as they are, so a demo that
someone edited keeps the edits when ``isthmus demo`` runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

from isthmus.catalog import Priority, Process, ProcessId
from isthmus.decisions import DeployedModel
from isthmus.errors import Conflict
from isthmus.security import Principal, Role
from isthmus.services.accounts import AccountService
from isthmus.services.catalog import CatalogService
from isthmus.services.decisions import DecisionService
from isthmus.services.models import ModelService

# The guide, ch. 3, template 1 (企业信息化流程现状分析表), rows as printed.
GUIDE_PROCESSES: tuple[Process, ...] = (
    Process(
        id=ProcessId("SAL-ORD-001"),
        name="销售订单处理流程",
        department="销售部",
        system_support="部分支持(CRM无库存接口)",
        owner="张*",
        roles=("销售专员", "仓库主管", "财务专员"),
        key_nodes=5,
        avg_hours=Decimal(48),
        pain_points=("库存查询需手动登录ERP", "审批节点冗余(销售经理→财务→总监)", "订单状态更新不及时"),
        priority=Priority.HIGH,
    ),
    Process(
        id=ProcessId("PUR-REQ-001"),
        name="采购申请流程",
        department="采购部",
        system_support="已支持(OA+ERP)",
        owner="李*",
        roles=("采购专员", "部门经理", "财务"),
        key_nodes=4,
        avg_hours=Decimal(24),
        pain_points=("金额≥5万需纸质签字,易丢失", "供应商信息需重复录入OA和ERP"),
        priority=Priority.MEDIUM,
    ),
    Process(
        id=ProcessId("PRO-MFG-001"),
        name="生产计划排程流程",
        department="生产部",
        system_support="不支持(Excel手工排程)",
        owner="王*",
        roles=("生产计划员", "车间主任"),
        key_nodes=3,
        avg_hours=Decimal(72),
        pain_points=("依赖人工计算产能,易出错", "与销售订单不同步,导致产能浪费或交付延迟"),
        priority=Priority.HIGH,
    ),
)


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: Role
    display_name: str


DEMO_PASSWORD_SUFFIX = "-demo-2024"
# One user per role; the password is the user name + "-demo-2024" (documented in docs/demo.md).
DEMO_USERS: tuple[DemoUser, ...] = tuple(
    DemoUser(name, name + DEMO_PASSWORD_SUFFIX, role, display)
    for name, role, display in (
        ("admin", Role.ADMIN, "系统管理员 Admin"),
        ("owner", Role.PROCESS_OWNER, "张* 流程负责人"),
        ("expert", Role.BUSINESS_EXPERT, "业务专家 Expert"),
        ("integrator", Role.IT_INTEGRATOR, "IT 集成 Integrator"),
        ("approver", Role.APPROVER, "审批人 Approver"),
        ("auditor", Role.AUDITOR, "审计员 Auditor"),
        ("userrep", Role.USER_REPRESENTATIVE, "用户代表 User rep"),
        ("viewer", Role.VIEWER, "访客 Viewer"),
    )
)


@dataclass(frozen=True, slots=True)
class LoadReport:
    processes_added: int
    users_added: int


def load_demo(principal: Principal, catalog: CatalogService, accounts: AccountService) -> LoadReport:
    processes_added = 0
    for process in GUIDE_PROCESSES:
        try:
            catalog.create(principal, process)
            processes_added += 1
        except Conflict:
            continue
    users_added = sum(
        accounts.ensure_user(principal, u.username, u.password, {u.role}, u.display_name) for u in DEMO_USERS
    )
    return LoadReport(processes_added=processes_added, users_added=users_added)


# The guide's decisions (docs/decisions.md): CHG-2024-005 tiered approval, CHG-2024-008 phone check.
DEMO_DECISION_FILES = ("tiered-approval.dmn", "phone-validation.dmn")


def deploy_demo_decisions(principal: Principal, decisions: DecisionService) -> list[DeployedModel]:
    """Deploy the demo DMN models; idempotent, since the same content keeps its version."""
    folder = resources.files("isthmus.demo") / "decisions"
    return [decisions.deploy(principal, (folder / name).read_bytes(), name) for name in DEMO_DECISION_FILES]


# The guide's to-be processes that run on the engine (docs/engine.md): SAL-ORD-001.
DEMO_PROCESS_FILES = ("sal-ord-001.bpmn",)


def deploy_demo_processes(principal: Principal, models: ModelService) -> list[str]:
    """Deploy the demo BPMN processes; idempotent. Returns ``key vN`` per process."""
    folder = resources.files("isthmus.demo") / "processes"
    deployed: list[str] = []
    for name in DEMO_PROCESS_FILES:
        result = models.deploy(principal, (folder / name).read_bytes(), name)
        deployed += [f"{p.key} v{p.version}" for p in result.processes]
    return deployed
