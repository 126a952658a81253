"""Latency and own overhead per operation at one client; requests per second per instance.

Own overhead of a request = its latency (as the client saw it) minus the time at least one
Stripe, Firestore or Identity Toolkit call of it was open on the wire (the union of those
calls' intervals: calls made at once, to one upstream or to several, are waited on once)
(:mod:`benchmarks.wire`), with the stand-in answering at once (latency 0). Of the operations
measured here only the webhook calls Identity Toolkit (the Auth emulator here): its ``billing``
claim is read, and written when it changes, on every event; until this was timed, its wait
counted as the webhook's own work. It is what this code, its libraries (the Stripe SDK
building objects, gRPC, pydantic, logging) and functions-framework spend per request. On a busy
machine that wall time stretches with the wait for a core, so the CPU time the instance used
per request (master and worker, from /proc) is reported beside it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from benchmarks import wire
from benchmarks.bench_stack import Bench, Instance, run_driver


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Sample:
    """What one run of requests measured, request by request (see :func:`summarize`)."""

    latencies: list[float] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)
    # What the bench reported before it took the union: Stripe and Firestore time subtracted
    # separately, so overlapping calls counted twice (kept to show the difference).
    overheads_by_sum: list[float] = field(default_factory=list)
    stripe_ms: list[float] = field(default_factory=list)
    firestore_ms: list[float] = field(default_factory=list)
    auth_ms: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    cpu_seconds: float = 0.0


def sample(
    bench: Bench,
    instance: Instance,
    requests_: list[dict[str, Any]],
    *,
    count: int,
    warmup: int = 5,
) -> Sample:
    """One client, ``count`` requests in a row after ``warmup``."""
    if warmup:
        run_driver(instance.url, requests_, clients=1, count=warmup)
    cpu = instance.cpu_seconds()
    rows = run_driver(instance.url, requests_, clients=1, count=count)
    cpu = instance.cpu_seconds() - cpu
    bench.stripe_wire.flush()
    bench.auth_wire.flush()
    upstreams = [bench.stripe_wire, bench.firestore_wire, bench.auth_wire]
    result = Sample(requests=len(rows), cpu_seconds=cpu)
    for start, end, status, _ in rows:
        if status != 200:
            result.errors += 1
            continue
        stripe_s = bench.stripe_wire.busy(start, end)
        firestore_s = bench.firestore_wire.busy(start, end)
        auth_s = bench.auth_wire.busy(start, end)
        result.latencies.append((end - start) * 1000)
        result.stripe_ms.append(stripe_s * 1000)
        result.firestore_ms.append(firestore_s * 1000)
        result.auth_ms.append(auth_s * 1000)
        upstream_s = wire.busy(upstreams, start, end)
        result.overheads.append((end - start - upstream_s) * 1000)
        result.overheads_by_sum.append((end - start - stripe_s - firestore_s - auth_s) * 1000)
    if not result.latencies:
        raise RuntimeError(f"{instance.url}: every request failed")
    return result


def summarize(samples: list[Sample]) -> dict[str, Any]:
    """The figures of one or more samples of the same subject, taken together."""
    both = Sample()
    for part in samples:
        both.latencies += part.latencies
        both.overheads += part.overheads
        both.overheads_by_sum += part.overheads_by_sum
        both.stripe_ms += part.stripe_ms
        both.firestore_ms += part.firestore_ms
        both.auth_ms += part.auth_ms
        both.requests += part.requests
        both.errors += part.errors
        both.cpu_seconds += part.cpu_seconds
    return {
        "requests": both.requests,
        "errors": both.errors,
        "p50_ms": round(statistics.median(both.latencies), 2),
        "p99_ms": round(percentile(both.latencies, 0.99), 2),
        "overhead_p50_ms": round(statistics.median(both.overheads), 2),
        "overhead_p99_ms": round(percentile(both.overheads, 0.99), 2),
        "overhead_by_sum_p50_ms": round(statistics.median(both.overheads_by_sum), 2),
        "cpu_ms_per_request": round(both.cpu_seconds * 1000 / both.requests, 2),
        "stripe_p50_ms": round(statistics.median(both.stripe_ms), 2),
        "firestore_p50_ms": round(statistics.median(both.firestore_ms), 2),
        "auth_p50_ms": round(statistics.median(both.auth_ms), 2),
    }


def measure(
    bench: Bench,
    instance: Instance,
    requests_: list[dict[str, Any]],
    *,
    count: int,
    warmup: int = 5,
) -> dict[str, Any]:
    """One client, ``count`` requests in a row after ``warmup``: the figures."""
    return summarize([sample(bench, instance, requests_, count=count, warmup=warmup)])


def throughput(url: str, requests_: list[dict[str, Any]], *, clients: int, count: int) -> float:
    """Requests per second one instance answers with ``clients`` clients sending back to back."""
    rows = run_driver(url, requests_, clients=clients, count=count, warmup=clients * 2)
    ok = [row for row in rows if row[2] == 200]
    if len(ok) < len(rows):
        raise RuntimeError(f"{url}: {len(rows) - len(ok)} of {len(rows)} requests failed")
    elapsed = max(end for _, end, _, _ in rows) - min(start for start, _, _, _ in rows)
    return round(len(rows) / elapsed, 1)
