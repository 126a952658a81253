"""Stripe's contention, turned on for the suites about concurrency (issue 15, point 9).

The stand-in runs requests one at a time unless told otherwise; these suites turn on its
object locks (a write that waits for an object another write holds longer than
``LOCK_TIMEOUT_MS`` answers 429 ``lock_timeout`` with ``Stripe-Should-Retry: true``) and test
mode's rate limits (25 reads and 25 writes a second, 10 new invoices a minute per
subscription), and count the 429s the suite met. The counts are printed at the end of the run
("Stripe contention met"), so a run says how much contention its concurrency suites were
correct under; every other suite runs without (fast, and what a single call meets).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import mode
from tests.support.stack_fixtures import StandIn

# Stripe does not publish how long a request waits for a locked object; 100 ms makes writes
# that overlap by more than that (a 40 ms hold times ten queued writes) refuse each other.
LOCK_TIMEOUT_MS = 100
ON = {"lock_timeout_ms": LOCK_TIMEOUT_MS, "rate_limits": True}
OFF = {"lock_timeout_ms": 0, "rate_limits": False}

# suite (module) -> 429 error codes met, for the end-of-run summary
MET: dict[str, Counter[str]] = {}


@contextmanager
def stripe_contention(standin: StandIn, suite: str) -> Iterator[Counter[str]]:
    """Contention on for the block; yields the Counter of 429 codes the block met (filled when
    it ends). Against Stripe test mode, Stripe's own contention applies: nothing to turn on."""
    if mode.AGAINST_STRIPE:
        yield Counter()
        return
    seen = standin.requests()
    start = max((int(r["seq"]) for r in seen), default=0)
    standin.post("/_standin/config", ON)
    met: Counter[str] = Counter()
    try:
        yield met
    finally:
        standin.post("/_standin/config", OFF)
        for entry in standin.requests():
            if int(entry["seq"]) > start and entry["status"] == 429:
                met[str(entry.get("error_code"))] += 1
        MET.setdefault(suite, Counter()).update(met)


def caller_was_told_to_retry(suite: str, answer: str) -> None:
    """A 429 that outlasted the SDK's retries (or that it does not retry) reached a caller, as
    ``answer`` ("409 in_progress", "503 upstream_unavailable")."""
    MET.setdefault(suite, Counter())[f"answered {answer}"] += 1
