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
from isthmus.catalog._spreadsheet import read_processes, write_csv, write_xlsx
from isthmus.catalog._table import ALL_COLUMNS, GUIDE_COLUMNS, PRIORITY_TEXT

__all__ = [
    "ALL_COLUMNS",
    "GUIDE_COLUMNS",
    "HIGH_FROM",
    "MEDIUM_FROM",
    "PRIORITY_TEXT",
    "WEIGHTS",
    "Priority",
    "PriorityScores",
    "Process",
    "ProcessId",
    "ProcessQuery",
    "SortField",
    "priority_for",
    "priority_score",
    "read_processes",
    "settle_priority",
    "validate_process",
    "write_csv",
    "write_xlsx",
]
