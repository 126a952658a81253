"""The stand-in's clock: real time plus an offset that only moves forward (like a test clock)."""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            return int(time.time()) + self._offset

    def advance_to(self, ts: int) -> None:
        """Move the clock forward so that ``now()`` is ``ts`` (never backwards)."""
        with self._lock:
            current = int(time.time()) + self._offset
            if ts > current:
                self._offset += ts - current

    def reset(self) -> None:
        with self._lock:
            self._offset = 0
