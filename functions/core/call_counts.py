"""Per-request counts of external round trips (Stripe calls, Firestore RPCs, SMTP sends).

Logged with every request and read by tests and benchmarks, so "how many Stripe calls does
this operation make" is measured, not claimed.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

STRIPE = "stripe_calls"
FIRESTORE = "firestore_round_trips"
PUBSUB = "pubsub_publishes"
SMTP = "smtp_sends"

_counts: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar(
    "billing_usage", default=None
)


@contextmanager
def measure() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    token = _counts.set(counts)
    try:
        yield counts
    finally:
        _counts.reset(token)


def count(kind: str, n: int = 1) -> None:
    counts = _counts.get()
    if counts is not None:
        counts[kind] += n
