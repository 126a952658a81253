"""Cold start per function, paired with a hello-world function in the same environment.

For each function, each round starts a fresh hello-world instance and a fresh instance of the
function (and of the same function from ``--baseline``, when given), one after the other in a
rotating order, and times each from process start to its port accepting, and to its first 200
answer to a representative request. The figure is the ratio to the hello world of the same
round (median over rounds, with the lowest and highest), so machine load shared by the pair
cancels out. A third reference, a function that only imports the client libraries, shows how
much of the gap is theirs.
"""

from __future__ import annotations

import http.client
import statistics
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench_stack import HELLO_SOURCE, REPO, Bench, Instance, wait_port

FLOOR_SOURCE = REPO / "benchmarks" / "floor" / "main.py"

type FirstRequest = Callable[[], tuple[bytes, dict[str, str]]]


@dataclass(frozen=True)
class Start:
    port_s: float
    first_200_s: float


def first_200(instance: Instance, body: bytes, headers: dict[str, str]) -> float:
    parsed = urllib.parse.urlsplit(instance.url)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{instance.name}: first answer {response.status}: {text[:300]!r}")
    return time.perf_counter() - instance.started


def cold_start(
    bench: Bench, target: str, source: Path | None, request: FirstRequest | None
) -> Start:
    body, headers = request() if request else (b"{}", {"Content-Type": "application/json"})
    instance = bench.spawn(target, source=source)
    try:
        port = wait_port(instance)
        return Start(port, first_200(instance, body, headers))
    finally:
        instance.stop()


def _summary(ratios: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(ratios), 2),
        "min": round(min(ratios), 2),
        "max": round(max(ratios), 2),
    }


def run(
    bench: Bench,
    requests: dict[str, FirstRequest],
    *,
    rounds: int,
    baseline: Path | None,
) -> dict[str, Any]:
    """``requests``: function name -> the first request, one that answers 200."""
    variants: list[tuple[str, str, Path | None]] = [("hello", "hello", HELLO_SOURCE)]
    subjects = [("ours", None)] + ([("baseline", baseline)] if baseline else [])
    results: dict[str, dict[str, list[Start]]] = {}
    floor: list[tuple[Start, Start]] = []
    for round_ in range(rounds):
        hello = cold_start(bench, "hello", HELLO_SOURCE, None)
        floor.append((hello, cold_start(bench, "libraries", FLOOR_SOURCE, None)))
        for name, request in requests.items():
            runs = results.setdefault(name, {})
            order = [*variants, *((label, name, src) for label, src in subjects)]
            shift = round_ % len(order)
            for label, target, source in order[shift:] + order[:shift]:
                start = cold_start(bench, target, source, request if label != "hello" else None)
                runs.setdefault(label, []).append(start)
    report: dict[str, Any] = {
        "rounds": rounds,
        "hello_first_200_s": round(
            statistics.median(s.first_200_s for r in results.values() for s in r["hello"]), 3
        ),
        "libraries_floor": {
            "first_200": _summary([b.first_200_s / a.first_200_s for a, b in floor]),
            "port": _summary([b.port_s / a.port_s for a, b in floor]),
        },
        "functions": {},
    }
    for name, runs in results.items():
        entry: dict[str, Any] = {}
        for label, _ in subjects:
            pairs = list(zip(runs["hello"], runs[label], strict=True))
            entry[label] = {
                "port": _summary([b.port_s / a.port_s for a, b in pairs]),
                "first_200": _summary([b.first_200_s / a.first_200_s for a, b in pairs]),
                "first_200_s": round(statistics.median(b.first_200_s for _, b in pairs), 3),
            }
        report["functions"][name] = entry
    return report
