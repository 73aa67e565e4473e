"""SQL connector: any SQLAlchemy URL; write by upsert on a key, read by a watermark column."""

from isthmus.adapters.connectors.sql.client import SqlSource, SqlTarget
from isthmus.adapters.connectors.sql.config import SqlConfig

__all__ = ["SqlConfig", "SqlSource", "SqlTarget"]
