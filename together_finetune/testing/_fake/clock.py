"""A clock that moves only when a test says so."""

from __future__ import annotations

import threading

__all__ = ["ManualClock"]


class ManualClock:
    """An injectable clock for tests: time moves only when told to.

    Pass it as ``FakeTogether(clock=...)`` (and as the client's clock/sleep) so that
    polling loops and ``step_seconds`` lifecycles run instantly and deterministically.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        """Create a clock reading ``start`` seconds."""
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current time in seconds (monotonic-like)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` instantly, like a ``time.sleep`` that never waits."""
        self.advance(max(0.0, seconds))
