"""The log of ``/v1`` requests served (``GET /_standin/requests``)."""

from __future__ import annotations

import itertools
import threading
from typing import Any


class RequestRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._entries: list[dict[str, Any]] = []

    def next_seq(self) -> int:
        with self._lock:
            return next(self._seq)

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def list(
        self, method: str | None = None, path_prefix: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._entries)
        return sorted(
            (
                e
                for e in entries
                if (method is None or e["method"] == method.upper())
                and (path_prefix is None or str(e["path"]).startswith(path_prefix))
            ),
            key=lambda e: int(e["seq"]),
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
