"""One Firestore document read two ways, side by side in one process: the library's
``DocumentReference.get()`` (a BatchGetDocuments stream, even for one document) and
``core.firestore.get_document`` (one unary GetDocument call, what the functions use).

CPU per read of this process (the client's gRPC and proto-plus work; the emulator runs
elsewhere), for a found and a missing document, in rounds that alternate which way goes first.
Part of ``make bench`` (:mod:`benchmarks.__main__`), against the bench stack's emulator.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

ROUNDS = 8
READS = 200


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ways(ref: Any, get_document: Callable[..., Any], retry: Any) -> dict[str, Callable[[], Any]]:
    def batch_stream() -> Any:
        return ref.get(timeout=30.0, retry=retry)

    def single() -> Any:
        return get_document(ref, timeout=30.0, retry=retry)

    return {"batch_stream": batch_stream, "get_document": single}


def measure(project: str, emulator_host: str, reads: int = READS) -> dict[str, Any]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    from core.firestore import firestore_retry, get_document

    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
    client = firestore.Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    found = client.collection("bench_single_reads").document(uuid.uuid4().hex)
    # An entitlement-sized document.
    found.set(
        {
            "uid": "bench",
            "active": True,
            "status": "active",
            "price_id": "price_basic_monthly",
            "features": ["reports", "exports"],
            "limits": {"api_calls": {"included": 1000, "overage": True}},
            "usage_period": {"start": 1, "end": 2},
            "version": 1,
        }
    )
    missing = client.collection("bench_single_reads").document(uuid.uuid4().hex)
    retry = firestore_retry(30.0)
    results: dict[str, Any] = {"reads_per_round": reads, "rounds": ROUNDS}
    for label, ref in (("found", found), ("missing", missing)):
        ways = _ways(ref, get_document, retry)
        for way in ways.values():  # warm both paths
            for _ in range(reads // 4):
                way()
        cpu_ms: dict[str, list[float]] = {name: [] for name in ways}
        wall_ms: dict[str, list[float]] = {name: [] for name in ways}
        for round_ in range(ROUNDS):
            order = list(ways.items()) if round_ % 2 == 0 else list(ways.items())[::-1]
            for name, way in order:
                cpu, wall = _cpu(), time.perf_counter()
                for _ in range(reads):
                    way()
                cpu_ms[name].append((_cpu() - cpu) * 1000 / reads)
                wall_ms[name].append((time.perf_counter() - wall) * 1000 / reads)
        results[label] = {
            name: {
                "cpu_ms": round(statistics.median(cpu_ms[name]), 3),
                "cpu_ms_min": round(min(cpu_ms[name]), 3),
                "cpu_ms_max": round(max(cpu_ms[name]), 3),
                "wall_ms": round(statistics.median(wall_ms[name]), 3),
            }
            for name in ways
        }
    found.delete()
    return results
