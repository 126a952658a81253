"""The stand-in's clock: real time plus an offset that only moves forward (like a test clock).

While the clock runs a scheduled step (a renewal, a charge, a retry, a cancellation), it stands
still at that step's time. Stripe's test clocks give "deterministic control over objects in
testmode ... create objects at a frozen time ... and advance to a specific future time"
(https://docs.stripe.com/api/test_clocks; the same text is stripe-ruby's TestClock docstring):
a retry scheduled 3 days after an attempt is 3 days after the scheduled attempt, never a
wall-clock second later because the machine was busy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Clock:
    def __init__(self) -> None:
        self._offset = 0
        self._held: int | None = None
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            if self._held is not None:
                return self._held
            return int(time.time()) + self._offset

    def advance_to(self, ts: int) -> None:
        """Move the clock forward so that ``now()`` is ``ts`` (never backwards)."""
        with self._lock:
            current = int(time.time()) + self._offset
            if ts > current:
                self._offset += ts - current

    @contextmanager
    def held_at(self, ts: int) -> Iterator[None]:
        """Advance to ``ts`` and read exactly ``ts`` until the block ends (a scheduled step)."""
        self.advance_to(ts)
        with self._lock:
            self._held = max(ts, int(time.time()) + self._offset)
        try:
            yield
        finally:
            with self._lock:
                self._held = None

    def reset(self) -> None:
        with self._lock:
            self._offset = 0
            self._held = None
