"""The sandbox ERP and finance databases and the guide's three flow definitions."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

GUIDE_FLOWS = ("crm-erp-orders", "erp-fic-daily", "oa-hr-employees")

_ERP_DDL = (
    "CREATE TABLE IF NOT EXISTS vbak (vbeln TEXT PRIMARY KEY, kunnr TEXT, erdat TEXT, netwr TEXT, telf1 TEXT)",
    "CREATE TABLE IF NOT EXISTS bseg (belnr TEXT PRIMARY KEY, vbeln TEXT, dmbtr TEXT, erdat TEXT)",
)
_FIC_DDL = ("CREATE TABLE IF NOT EXISTS fic (belnr TEXT PRIMARY KEY, amount TEXT, date TEXT)",)


def flow_text(name: str, demo_dir: Path) -> str:
    """The YAML of one of :data:`GUIDE_FLOWS` with its folders and databases under ``demo_dir``."""
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return text.replace("{demo}", demo_dir.as_posix())


def create_erp_tables(demo_dir: Path) -> None:
    """SAP-like tables (VBAK order headers, BSEG line items) and the finance system's FIC table."""
    import sqlite3

    demo_dir.mkdir(parents=True, exist_ok=True)
    for name, ddl in (("erp.db", _ERP_DDL), ("fic.db", _FIC_DDL)):
        with sqlite3.connect(demo_dir / name) as conn:
            for statement in ddl:
                conn.execute(statement)
    for folder in ("oa/outbox", "hr/inbox"):
        (demo_dir / folder).mkdir(parents=True, exist_ok=True)
