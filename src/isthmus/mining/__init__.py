"""Process mining on event logs, on Polars: import, discovery, the value-stream view, conformance.

Numbers equal pm4py's on the same log (the tests compare them); pm4py itself is never imported
here (AGPL). See ``docs/mining.md`` for each analysis, its exact definition and its JSON shape.

Example:
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> from isthmus.mining import EventLog, dfg
    >>> log = EventLog.of(pl.DataFrame({"case_id": ["1", "1"], "activity": ["a", "b"],
    ...     "timestamp": [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)]}))
    >>> dfg(log).edges
    {('a', 'b'): 1}
"""

from isthmus.mining._bpmn_export import discovered_bpmn, map_layout
from isthmus.mining._bpmn_net import PetriNet, load_net, read_bpmn, slas_from_bpmn, to_petri_net
from isthmus.mining._conformance import Conformance, net_from_bpmn, token_replay
from isthmus.mining._discovery import (
    Dfg,
    EdgePerformance,
    PerformanceDfg,
    Variant,
    case_durations,
    dfg,
    performance_dfg,
    throughput,
    variant_table,
    variants,
)
from isthmus.mining._filters import (
    TimeMode,
    filter_attribute,
    filter_duration,
    filter_time,
    filter_top_variants,
)
from isthmus.mining._import import LogFormat, detect_format, read_log
from isthmus.mining._log import EventLog, LogStatistics, statistics
from isthmus.mining._registry import StoredLog
from isthmus.mining._schema import ACTIVITY, CASE, INDEX, LIFECYCLE, RESOURCE, START, SYSTEM, TIMESTAMP
from isthmus.mining._selection import Selection
from isthmus.mining._tabular import ColumnMapping
from isthmus.mining._token_replay import TraceReplay
from isthmus.mining._value_stream import (
    SlaBreach,
    bottlenecks,
    duplicate_entry,
    handover,
    instances,
    parse_duration,
    rework,
    sla_breaches,
    waiting,
)

__all__ = [
    "ACTIVITY",
    "CASE",
    "INDEX",
    "LIFECYCLE",
    "RESOURCE",
    "START",
    "SYSTEM",
    "TIMESTAMP",
    "ColumnMapping",
    "Conformance",
    "Dfg",
    "EdgePerformance",
    "EventLog",
    "LogFormat",
    "LogStatistics",
    "PerformanceDfg",
    "PetriNet",
    "Selection",
    "SlaBreach",
    "StoredLog",
    "TimeMode",
    "TraceReplay",
    "Variant",
    "bottlenecks",
    "case_durations",
    "detect_format",
    "dfg",
    "discovered_bpmn",
    "duplicate_entry",
    "filter_attribute",
    "filter_duration",
    "filter_time",
    "filter_top_variants",
    "handover",
    "instances",
    "load_net",
    "map_layout",
    "net_from_bpmn",
    "parse_duration",
    "performance_dfg",
    "read_bpmn",
    "read_log",
    "rework",
    "sla_breaches",
    "slas_from_bpmn",
    "statistics",
    "throughput",
    "to_petri_net",
    "token_replay",
    "variant_table",
    "variants",
    "waiting",
]
