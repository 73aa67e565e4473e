"""Storage adapter: SQLAlchemy 2 tables, Alembic migrations, repositories and the job queue."""

from isthmus.adapters.storage.engine import make_engine, normalise_url
from isthmus.adapters.storage.unit_of_work import Database, SqlUnitOfWork

__all__ = ["Database", "SqlUnitOfWork", "make_engine", "normalise_url"]
