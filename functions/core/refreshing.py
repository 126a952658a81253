"""A per-instance cache of something slow to read (Stripe's catalog for a pricing page):
one refresh at a time, nobody blocked behind it, and the last good copy served when the
source fails.

- Fresh (younger than its ``ttl``): answered from memory.
- Expired: ONE caller (the leader) reads the source; the lock is held only to decide who
  leads, never during the read, so a slow source blocks no one. Everyone else meanwhile gets
  the expired copy at once (stale-while-revalidate); only a caller with no copy at all waits
  for the leader's answer (or its error).
- The read fails: the leader's callers get the last good copy, marked stale, up to
  ``stale_limit`` seconds after it was read (stale-if-error, RFC 5861 section 4:
  https://www.rfc-editor.org/rfc/rfc5861#section-4); the source is not tried again for
  ``retry_after_failure`` seconds, so an outage is not hammered by every page view. With no
  copy, or one older than ``stale_limit``, the error is raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Copy[V]:
    value: V
    fetched_at: float
    expires_at: float
    stale: bool = False  # served past expires_at (a refresh failed or is under way)
    retry_at: float = 0.0  # after a failed refresh: not before then


class RefreshingCache[K: Hashable, V]:
    def __init__(
        self,
        *,
        stale_limit: float,
        retry_after_failure: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stale_limit = stale_limit
        self.retry_after_failure = retry_after_failure
        self._clock = clock
        self._lock = threading.Lock()
        self._copies: dict[K, Copy[V]] = {}
        self._flights: dict[K, Future[Copy[V]]] = {}

    def get(self, key: K, fetch: Callable[[], V], ttl: float) -> Copy[V]:
        now = self._clock()
        with self._lock:
            held = self._copies.get(key)
            if held is not None and held.expires_at > now:
                return held
            usable = (
                held if held is not None and now - held.fetched_at <= self.stale_limit else None
            )
            if usable is not None and now < usable.retry_at:
                return replace(usable, stale=True)  # the source failed a moment ago
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not leader:
            if usable is not None:
                return replace(usable, stale=True)  # a refresh is under way: no waiting
            return flight.result()  # nothing to serve: wait for the leader (not the lock)
        return self._refresh(key, fetch, ttl, usable, flight)

    def _refresh(
        self,
        key: K,
        fetch: Callable[[], V],
        ttl: float,
        usable: Copy[V] | None,
        flight: Future[Copy[V]],
    ) -> Copy[V]:
        try:
            value = fetch()  # no lock held here
        except BaseException as exc:
            with self._lock:
                del self._flights[key]
                held = self._copies.get(key)
                if held is not None:
                    held = self._copies[key] = replace(
                        held, retry_at=self._clock() + self.retry_after_failure
                    )
            flight.set_exception(exc)
            if usable is None or not isinstance(exc, Exception):
                raise
            log.warning(
                "refresh failed; serving the last good copy",
                exc_info=True,
                extra={
                    "cache_key": str(key),
                    "age_seconds": int(self._clock() - usable.fetched_at),
                },
            )
            return replace(held or usable, stale=True)
        now = self._clock()
        fresh = Copy(value, fetched_at=now, expires_at=now + ttl)
        with self._lock:
            self._copies[key] = fresh
            del self._flights[key]
        flight.set_result(fresh)
        return fresh

    def clear(self) -> None:
        with self._lock:
            self._copies.clear()
