"""Data-quality sources and targets through the Connect connectors (issue 7 reuses issue 6's).

Two spellings besides a plain path or ``URL#table``:

- ``files:PATH[?encoding=gb18030&delimiter=;&format=csv]`` reads the file with the files connector's
  reader (``read_chunks``: CSV in blocks, JSON lines, Excel), as a flow's ``files`` source does, with
  the same options;
- ``system:NAME#table`` names a system of the registry (``isthmus system add``); its ``url`` setting
  (and a sealed ``password`` credential, put into the URL) is resolved when the plan runs, so a plan
  file carries no address or secret.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import polars as pl
import sqlalchemy as sa
from pydantic import ValidationError

from isthmus.errors import InvalidInput, Location

FILES = "files:"
SYSTEM = "system:"
#: The systems registry: a system's settings and opened credentials (``SystemService.options_for``).
Registry = Callable[[str], dict[str, Any]]
_FORMATS = {".csv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}


def read_files_spec(spec: str) -> pl.DataFrame:
    """Read ``files:PATH?options`` through the files connector, as a frame of strings."""
    # Imported here: the connectors package opens every connector, which `isthmus data` rarely needs.
    from isthmus.adapters.connectors.files.client import read_chunks
    from isthmus.adapters.connectors.files.config import FilesConfig

    path_text, _, query = spec.removeprefix(FILES).partition("?")
    path = Path(path_text)
    options: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = options.pop("format", None) or _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInput(
            "cannot tell the format of {path!r}; add ?format=csv, jsonl or xlsx",
            location=Location(file=path_text),
            path=path_text,
        )
    try:
        config = FilesConfig.from_options({"folder": str(path.parent), "format": kind, **options})
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(
            "files option {option}: {problem}",
            location=Location(file=path_text),
            option=".".join(str(p) for p in first["loc"]),
            problem=first["msg"],
        ) from error
    if not path.is_file():
        raise InvalidInput("no such file", location=Location(file=path_text))
    try:
        frames = [frame for _, frame in read_chunks(path, config)]
    except (UnicodeDecodeError, ValueError, TypeError, OSError) as error:  # TypeError: a bad delimiter
        raise InvalidInput(
            "cannot read the file as {format} ({encoding}): {reason}",
            location=Location(file=path_text),
            format=config.format,
            encoding=config.encoding,
            reason=str(error).splitlines()[0][:200],
        ) from error
    if not frames:
        return pl.DataFrame()
    frame = pl.concat(frames, how="diagonal_relaxed")
    return frame.with_columns(pl.all().cast(pl.String))


def resolve_system(spec: str, registry: Registry | None) -> str:
    """``system:NAME#table`` → ``URL#table`` from the registry; other specs unchanged."""
    if not spec.startswith(SYSTEM):
        return spec
    name, _, table = spec.removeprefix(SYSTEM).partition("#")
    where = Location(file=f"{SYSTEM}{name}")
    if not table:
        raise InvalidInput("a system source or target needs '#table' after the name", location=where)
    if registry is None:
        raise InvalidInput("system {name!r}: no systems registry here", location=where, name=name)
    options = registry(name)
    url = options.get("url")
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInput(
            "system {name!r} is not registered with a database url (isthmus system add)",
            location=where,
            name=name,
        )
    password = options.get("password")
    if password:
        url = sa.make_url(url).set(password=str(password)).render_as_string(hide_password=False)
    return f"{url}#{table}"


def shown(url: str) -> str:
    """A URL as an error message may show it: the password replaced by ``***``."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url
