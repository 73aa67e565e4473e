"""Integration flows — the guide's table 2, executable.

A flow reads records from a source system, validates them with FEEL rules, maps them with FEEL,
transforms (types, code tables, masks) and stores each in the outbox with its idempotency key; a
job delivers it to the target with retries and backoff, and what cannot be delivered waits in the
dead-letter queue for a replay or a discard. Pure domain: no HTTP, SQL or files here — connectors
live in ``isthmus.adapters.connectors``.
"""

from isthmus.integration._cleansing import inline_cleanse
from isthmus.integration._definition import (
    EXAMPLE,
    DeliveryPolicy,
    Direction,
    Endpoint,
    FieldType,
    FlowDefinition,
    MaskKind,
    Rule,
    Transform,
    parse_duration,
    parse_flow,
)
from isthmus.integration._errors import ChunkLost, TargetRejected, TargetUnavailable
from isthmus.integration._mapping import (
    FlowMapper,
    MappedChunk,
    MappedRecord,
    Rejected,
    mask_name,
    rejected_key,
)
from isthmus.integration._messages import (
    ChunkStore,
    ChunkTarget,
    DeployedFlow,
    FlowMessage,
    MessageState,
    NewMessage,
    Outbound,
    OutboundChunk,
    Source,
    Target,
    TestStatus,
    chunk_file,
    claim_chunk,
    decode_chunk,
    encode_chunk,
    is_chunk,
    records_in,
)
from isthmus.integration._schedule import CronError, CronSchedule, Trigger, TriggerKind
from isthmus.integration._systems import MasterKey, System, SystemKind, open_envelope, rewrap, seal
from isthmus.integration._table2 import COLUMNS, GUIDE_HEADERS, Table2Row, table2_row, table2_workbook
from isthmus.integration._xml import to_xml

__all__ = [
    "COLUMNS",
    "EXAMPLE",
    "GUIDE_HEADERS",
    "ChunkLost",
    "ChunkStore",
    "ChunkTarget",
    "CronError",
    "CronSchedule",
    "DeliveryPolicy",
    "DeployedFlow",
    "Direction",
    "Endpoint",
    "FieldType",
    "FlowDefinition",
    "FlowMapper",
    "FlowMessage",
    "MappedChunk",
    "MappedRecord",
    "MaskKind",
    "MasterKey",
    "MessageState",
    "NewMessage",
    "Outbound",
    "OutboundChunk",
    "Rejected",
    "Rule",
    "Source",
    "System",
    "SystemKind",
    "Table2Row",
    "Target",
    "TargetRejected",
    "TargetUnavailable",
    "TestStatus",
    "Transform",
    "Trigger",
    "TriggerKind",
    "chunk_file",
    "claim_chunk",
    "decode_chunk",
    "encode_chunk",
    "inline_cleanse",
    "is_chunk",
    "mask_name",
    "open_envelope",
    "parse_duration",
    "parse_flow",
    "records_in",
    "rejected_key",
    "rewrap",
    "seal",
    "table2_row",
    "table2_workbook",
    "to_xml",
]
