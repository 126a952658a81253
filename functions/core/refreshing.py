"""A per-instance cache of something slow to read (Stripe's catalog for a pricing page):
one refresh at a time, nobody blocked behind it, and the last good copy served when the
source fails.

- Fresh (younger than its ``ttl``): answered from memory.
- Expired: ONE caller (the leader) reads the source; the lock is held only to decide who
  leads, never during the read, so a slow source blocks no one. Everyone else meanwhile gets
  the expired copy at once (stale-while-revalidate); only a caller with no copy at all waits
  for the leader's answer (or its error). A leader that holds a copy waits for the source at
  most ``refresh_wait`` seconds, then is answered that copy (marked stale) while the read
  goes on in a thread of its own and lands in the cache for the next caller: a hanging source
  never holds a page for the source's own timeouts (minutes with retries).
- ``stale`` means the source could not be read just now (it failed since the copy was read,
  or it is slower than ``refresh_wait``); a copy answered while another caller's refresh is
  simply under way is not stale (a page would tell its visitor of an outage that is none).
- The read fails: the leader's callers get the last good copy, marked stale, up to
  ``stale_limit`` seconds after it was read (stale-if-error, RFC 5861 section 4:
  https://www.rfc-editor.org/rfc/rfc5861#section-4); the source is not tried again for
  ``retry_after_failure`` seconds, so an instance holding a copy does not hammer an outage
  with every page view. With no copy, or one older than ``stale_limit``, the error is raised:
  an instance without a copy (a cold one) asks the source on each request, and its callers
  get the error (list-plans: 503 with Retry-After; the example app retries after its own
  back-off, 2 s first, and does not read the header).
"""

from __future__ import annotations

import contextvars
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
    stale: bool = False  # the source could not be read just now (failed, or too slow)
    retry_at: float = 0.0  # after a failed refresh: not before then (0: none failed since)


class RefreshingCache[K: Hashable, V]:
    def __init__(
        self,
        *,
        stale_limit: float,
        retry_after_failure: float,
        refresh_wait: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stale_limit = stale_limit
        self.retry_after_failure = retry_after_failure
        self.refresh_wait = refresh_wait
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
                # A refresh is under way: no waiting; stale only if the last one failed.
                return replace(usable, stale=usable.retry_at > 0)
            return flight.result()  # nothing to serve: wait for the leader (not the lock)
        if usable is None:
            return self._refresh(key, fetch, ttl, usable, flight)  # nothing else to answer
        # The read runs in a thread of its own (with this caller's context: log fields, call
        # counts) so that this caller waits for it at most refresh_wait seconds.
        reader = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._refresh_quietly, key, fetch, ttl, usable, flight),
            name=f"refresh-{key}",
            daemon=True,
        )
        reader.start()
        try:
            return flight.result(timeout=self.refresh_wait)
        except TimeoutError:
            log.warning(
                "refresh slower than %ss; serving the copy held",
                self.refresh_wait,
                extra={"cache_key": str(key)},
            )
            return replace(usable, stale=True)
        except Exception:  # noqa: BLE001 - the refresh logged it; serve the copy held
            with self._lock:  # the failed refresh recorded when to try again
                held = self._copies.get(key)
            return replace(held or usable, stale=True)

    def _refresh_quietly(
        self,
        key: K,
        fetch: Callable[[], V],
        ttl: float,
        usable: Copy[V],
        flight: Future[Copy[V]],
    ) -> None:
        try:
            self._refresh(key, fetch, ttl, usable, flight)
        except BaseException:  # noqa: BLE001 - recorded in the flight; the thread just ends
            return

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
