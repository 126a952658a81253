"""Independent upstream calls of one request, made at the same time.

An ownership check reads the caller's customer from Firestore and the object from Stripe; a
sync reads subscriptions and entitlements from Stripe: neither call needs the other's answer,
so the request waits for the slower one instead of both in turn (measured by ``make bench``
with the stand-in adding a fixed delay). The code keeps its order of checks: a background
call's error is raised only where its result is used, so a request that fails earlier, or
needs no result (an invoice already paid), answers exactly as before.

The call runs on a small per-instance pool, in a copy of the request's context (its log
fields and call counters), and never outlives the request: leaving the ``with`` block waits
for it. A background call never starts another (the pool could then wait on itself).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

# Per instance, built on first use (after gunicorn forks its worker). At least the most
# background calls one request makes at once (two: retry-invoice's invoice and card), times
# the requests an instance serves at once (8 per kind in app.registry, which Terraform may
# raise): a call beyond it would queue behind the others. The pool starts a thread only when
# no idle one is free, so the headroom costs nothing until it is used.
MAX_THREADS = 32

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool  # one pool per instance, by design
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="billing-io")
    return _pool


class Background[T]:
    """``with Background(call) as pending: ...; pending.result()``: ``call`` runs meanwhile."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._future: Future[T] | None = None

    def __enter__(self) -> Background[T]:
        self._future = _executor().submit(contextvars.copy_context().run, self._call)
        return self

    def result(self) -> T:
        """The call's result, or its exception raised here."""
        assert self._future is not None, "use Background in a with block"
        return self._future.result()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._future is not None
        # Wait, so no call outlives its request; an error of a result nobody used is moot.
        self._future.exception()
