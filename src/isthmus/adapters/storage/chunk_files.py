"""Chunk files of the outbox's claim checks: one Arrow IPC file per chunk message in a directory.

A 50,000-row chunk is a few MB; writing it into an outbox row (and reading it back) cost more than
the upsert it feeds on PostgreSQL. The file is written under a temporary name, flushed to disk and
renamed, and the directory flushed too, so once ``put`` returns the file survives a crash and the
message naming it can commit.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import datetime
from pathlib import Path

_NAME = re.compile(r"^[0-9a-f]{32}\.arrow$")
_TEMPORARY = re.compile(r"^\.[0-9a-f]{32}\.arrow\.[0-9]+\.tmp$")  # a put that died before its rename


class FileChunkStore:
    """Satisfies ``isthmus.integration.ChunkStore``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        if not (_NAME.match(name) or _TEMPORARY.match(name)):  # a name never leaves the directory
            raise ValueError(f"not a chunk file name: {name!r}")
        return self.directory / name

    def put(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        if path.exists():
            return False  # the same chunk, by its content digest, is already waiting
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{name}.{os.getpid()}.tmp")
        with temporary.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    def names_older_than(self, cutoff: datetime) -> list[str]:
        """Chunk files (and temporary files of a ``put`` that died before its rename) last written
        before ``cutoff``: the candidates of retention's orphan sweep."""
        if not self.directory.is_dir():
            return []
        limit = cutoff.timestamp()
        names = []
        for entry in os.scandir(self.directory):
            if not (_NAME.match(entry.name) or _TEMPORARY.match(entry.name)):
                continue
            try:
                written = entry.stat().st_mtime
            except FileNotFoundError:
                continue  # removed meanwhile
            if written < limit:
                names.append(entry.name)
        return sorted(names)
