"""Public test helpers: a clock you set by hand (more fakes live beside it)."""

from isthmus.testing._clock import FakeClock

__all__ = ["FakeClock"]
