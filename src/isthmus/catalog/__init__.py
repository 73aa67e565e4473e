"""The process catalog: the guide's table 1 (流程现状分析表) as live data.

Example:
    >>> from isthmus.catalog import Process, ProcessId, PriorityScores, settle_priority
    >>> p = settle_priority(Process(id=ProcessId("X-1"), name="x", priority_manual=False,
    ...                             scores=PriorityScores(value=5, pain=5, ease=3)))
    >>> p.priority.value
    'high'
"""

from isthmus.catalog._priority import (
    HIGH_FROM,
    MEDIUM_FROM,
    WEIGHTS,
    priority_for,
    priority_score,
    settle_priority,
)
from isthmus.catalog._process import Priority, PriorityScores, Process, ProcessId, validate_process
from isthmus.catalog._query import ProcessQuery, SortField
from isthmus.catalog._sla import MAX_SLAS, NodeSla, parse_sla_lines, sla_duration, validate_slas
from isthmus.catalog._spreadsheet import read_processes, read_slas, write_csv, write_xlsx
from isthmus.catalog._table import ALL_COLUMNS, GUIDE_COLUMNS, PRIORITY_TEXT

__all__ = [
    "ALL_COLUMNS",
    "GUIDE_COLUMNS",
    "HIGH_FROM",
    "MAX_SLAS",
    "MEDIUM_FROM",
    "PRIORITY_TEXT",
    "WEIGHTS",
    "NodeSla",
    "Priority",
    "PriorityScores",
    "Process",
    "ProcessId",
    "ProcessQuery",
    "SortField",
    "parse_sla_lines",
    "priority_for",
    "priority_score",
    "read_processes",
    "read_slas",
    "settle_priority",
    "sla_duration",
    "validate_process",
    "validate_slas",
    "write_csv",
    "write_xlsx",
]
