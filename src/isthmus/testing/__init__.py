"""Public test helpers: a clock you set by hand and in-memory fakes of every storage port.

The fakes honour the same contracts as the SQL adapters (``tests/testing/test_contracts.py`` runs
one suite against both); see ``docs/testing.md``.
"""

from isthmus.testing._clock import FakeClock
from isthmus.testing._memory_uow import InMemoryStore, InMemoryUnitOfWork, memory_uow_factory

__all__ = ["FakeClock", "InMemoryStore", "InMemoryUnitOfWork", "memory_uow_factory"]
