"""Files connector: CSV (any delimiter and encoding, GB18030 included), JSON lines, Excel."""

from isthmus.adapters.connectors.files.client import FilesTarget, InboundFolder, read_chunks
from isthmus.adapters.connectors.files.config import FilesConfig

__all__ = ["FilesConfig", "FilesTarget", "InboundFolder", "read_chunks"]
