"""Stripe's object locks and rate limiters, both opt-in (``lock_timeout_ms``, ``rate_limits``).

The stand-in runs every request under one state lock, so, left alone, concurrent requests never
contend. Stripe's do (https://docs.stripe.com/rate-limits):

- **Object locks.** Stripe serialises writes to one object; a request that cannot get an
  object another request (or Stripe itself) is working on is answered ``429`` with code
  ``lock_timeout`` and the header ``Stripe-Should-Retry: true``. stripe-python retries a 429
  only when that header says so (``_http_client._should_retry``; stripe-ruby #841 and
  stripe-php #718 "retry requests on a 429 that's a lock timeout"), so a lock timeout is
  retried with the same idempotency key, and a rate-limit 429 is not. The message is Stripe's
  (quoted in mysociety/alaveteli#6405). With ``lock_timeout_ms`` > 0, each write (POST,
  DELETE) takes the locks of the objects it names (the ids in its path, and its ``customer`` and
  ``subscription`` parameters) before it runs, spends the configured ``latency_ms`` inside them
  (Stripe's processing time is spent holding its locks), and lets them go when it has answered;
  another write naming one of them waits at most ``lock_timeout_ms``, then gets the 429.
  Which objects Stripe locks for each endpoint is not published: the objects a request names
  is the stand-in's approximation. Reads take no lock.
- **Rate limits.** Test mode allows 25 read and 25 write operations a second per account
  (sandbox; live mode 100): above that, ``429`` code ``rate_limit``, without
  ``Stripe-Should-Retry``. A subscription gets at most 10 new invoices a minute and 20 a day
  ("Subscriptions API" row of the same page); the stand-in counts them on its test clock and
  refuses the request that would create one more (a plan change that invoices) with the same
  429 before it changes anything. Stripe does not publish that refusal's body; the stand-in
  uses the rate limiter's, naming the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from devstack.stripe_standin.api_errors import StripeAPIError

# Test mode ("sandbox") figures of https://docs.stripe.com/rate-limits.
READS_PER_SECOND = 25
WRITES_PER_SECOND = 25
INVOICES_PER_MINUTE = 10
INVOICES_PER_DAY = 20

LOCK_TIMEOUT_MESSAGE = (
    "This object cannot be accessed right now because another API request or Stripe process "
    "is currently accessing it. If you see this error intermittently, retry the request. If "
    "you see this error frequently and are making multiple concurrent requests to a single "
    "object, make your requests serially or at a lower rate."
)
RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here "
    "https://docs.stripe.com/rate-limits."
)


def lock_timeout() -> StripeAPIError:
    return StripeAPIError(
        429,
        "invalid_request_error",
        LOCK_TIMEOUT_MESSAGE,
        code="lock_timeout",
        headers={"Stripe-Should-Retry": "true"},
    )


def rate_limited(message: str = RATE_LIMIT_MESSAGE) -> StripeAPIError:
    return StripeAPIError(429, "invalid_request_error", message, code="rate_limit")


class LockTimeout(Exception):
    """An object stayed locked by another request for longer than the lock timeout."""


class ObjectLocks:
    """Locks by object id, taken all at once (so two requests never deadlock over two ids)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: set[str] = set()

    @contextmanager
    def hold(self, ids: Iterable[str], timeout_s: float) -> Iterator[None]:
        wanted = set(ids)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while wanted & self._held:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockTimeout
                self._changed.wait(left)
            self._held |= wanted
        try:
            yield
        finally:
            with self._changed:
                self._held -= wanted
                self._changed.notify_all()


class TokenBucket:
    """``per_second`` requests a second, refilled continuously, a second's worth at most."""

    def __init__(self, per_second: int) -> None:
        self._per_second = per_second
        self._tokens = float(per_second)
        self._refilled = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(
                float(self._per_second),
                self._tokens + (now - self._refilled) * self._per_second,
            )
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


class RateLimits:
    """The account's read and write limiters."""

    def __init__(self) -> None:
        self.reads = TokenBucket(READS_PER_SECOND)
        self.writes = TokenBucket(WRITES_PER_SECOND)

    def admit(self, method: str) -> bool:
        return (self.reads if method == "GET" else self.writes).take()


def check_invoice_limits(created: Iterable[int], now: int) -> None:
    """Raise the 429 when a subscription with invoices created at ``created`` may get no new
    one at ``now`` (10 a minute, 20 a day)."""
    times = list(created)
    if sum(1 for at in times if now - at < 60) >= INVOICES_PER_MINUTE:
        raise rate_limited(
            f"{RATE_LIMIT_MESSAGE} A subscription can have at most {INVOICES_PER_MINUTE} new "
            "invoices a minute."
        )
    if sum(1 for at in times if now - at < 86_400) >= INVOICES_PER_DAY:
        raise rate_limited(
            f"{RATE_LIMIT_MESSAGE} A subscription can have at most {INVOICES_PER_DAY} new "
            "invoices a day."
        )


def locked_ids(method: str, path_params: dict[str, str], params: dict[str, object]) -> set[str]:
    """The objects a write names: the ids in its path, its customer and its subscription."""
    if method == "GET":
        return set()
    ids = set(path_params.values())
    for name in ("customer", "subscription"):
        value = params.get(name)
        if isinstance(value, str):
            ids.add(value)
    return ids
