"""Sources and targets of data-quality work as Polars frames: files, or any SQLAlchemy URL + table.

``SOURCE`` is a path (``.csv`` in UTF-8/UTF-16/GB18030, ``.xlsx``, ``.parquet``) or
``URL#table`` (``sqlite:///crm.db#customers``, ``postgresql://…#public.customers``), or through the
Connect connectors: ``files:PATH?options`` (the files connector's reader) and ``system:NAME#table``
(a database system of the registry, resolved by the caller with :func:`resolve_system`).
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from isthmus.adapters.storage import normalise_url
from isthmus.adapters.tabular._connected import FILES, Registry, read_files_spec, resolve_system, shown
from isthmus.errors import InvalidInput, Location
from isthmus.quality import read_table, write_table


def is_database(spec: str) -> bool:
    return "://" in spec.split("#", 1)[0]


def _table(engine: sa.Engine, name: str, spec: str) -> sa.Table:
    schema, _, table = name.rpartition(".")
    try:
        return sa.Table(table, sa.MetaData(), schema=schema or None, autoload_with=engine)
    except sa.exc.NoSuchTableError as error:
        raise InvalidInput("table {table!r} not found", location=Location(file=spec), table=name) from error


def read_source(spec: str) -> pl.DataFrame:
    """Read a file or a database table as a frame of strings (see the module docstring)."""
    if spec.startswith(FILES):
        return read_files_spec(spec)
    if not is_database(spec):
        return read_table(spec)
    url, _, name = spec.partition("#")
    if not name:
        raise InvalidInput(
            "a database source needs '#table' after the URL", location=Location(file=shown(url))
        )
    engine = sa.create_engine(normalise_url(url))
    try:
        table = _table(engine, name, shown(url))
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table)).all()
    except sa.exc.SQLAlchemyError as error:
        raise InvalidInput(
            "cannot read {table}: {reason}",
            location=Location(file=shown(url)),
            table=name,
            reason=str(error).splitlines()[0][:200],
        ) from error
    finally:
        engine.dispose()
    columns = [c.name for c in table.columns]
    data = {c: [None if r[i] is None else str(r[i]) for r in rows] for i, c in enumerate(columns)}
    return pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String))


def write_target(frame: pl.DataFrame, spec: str) -> None:
    """Write a frame to a file (by suffix) or replace a database table's rows (``URL#table``)."""
    if not is_database(spec):
        write_table(frame, spec)
        return
    url, _, name = spec.partition("#")
    engine = sa.create_engine(normalise_url(url))
    try:
        table = _table(engine, name, url)
        with engine.begin() as conn:
            conn.execute(table.delete())
            if frame.height:
                conn.execute(table.insert(), frame.to_dicts())
    finally:
        engine.dispose()


__all__ = ["Registry", "is_database", "read_source", "resolve_system", "write_target"]
