"""Cold start per function, paired with a hello-world and a library-floor function.

Every instance here starts as a deployed one does (:mod:`benchmarks.runtime_env`): an
environment holding ``requirements.txt`` alone (the ``--baseline`` side: that commit's own
``requirements.txt``), sources compiled to bytecode. Each round starts,
for each function, a fresh hello-world instance, a fresh library-floor instance, a fresh
instance of the function (and of the same function from ``--baseline``, when given), in an
order that rotates from round to round, and times each from process start to its first 200
answer to a representative request: on the wall clock, and in CPU seconds (master and worker,
from /proc), which a busy machine stretches far less than wall time. The figures are ratios to
the hello world and to the floor of the same round (median over rounds, with the lowest and
highest), so machine load shared by the group cancels out.

The floor imports only what every function must (functions-framework, stripe,
google-cloud-firestore and pydantic) and answers 200: a function's ratio to it is what the
product adds beyond its indispensable libraries. One function is also started from the same
staging without bytecode (what the archive held before it carried bytecode), paired in the
same rounds: the bytecode's saving.
"""

from __future__ import annotations

import http.client
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import runtime_env
from benchmarks.bench_stack import HELLO_SOURCE, REPO, Bench, Instance, wait_port

FLOOR_SOURCE = REPO / "benchmarks" / "floor" / "main.py"
# The function also measured from sources without bytecode (the bytecode's before/after).
UNCOMPILED = "retrieve_subscription"

# Given the instance's URL (a job's token is for one function's address), the request's body
# and headers; made while the instance boots.
type FirstRequest = Callable[[str], tuple[bytes, dict[str, str]]]


class FirstAnswerRefused(RuntimeError):
    """An instance answered its first request with something other than 200."""


@dataclass(frozen=True)
class Start:
    port_s: float
    first_200_s: float
    cpu_s: float  # CPU of master + worker until the first 200


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
        raise FirstAnswerRefused(f"first answer {response.status}: {text[:300]!r}")
    return time.perf_counter() - instance.started


def cold_start(
    bench: Bench, target: str, source: Path, request: FirstRequest | None, bin_dir: Path
) -> Start:
    instance = bench.spawn(target, source=source, bin_dir=bin_dir)
    try:
        body, headers = (
            request(instance.url) if request else (b"{}", {"Content-Type": "application/json"})
        )
        port = wait_port(instance)
        first = first_200(instance, body, headers)
        return Start(port, first, instance.cpu_seconds())
    finally:
        instance.stop()


def _summary(ratios: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(ratios), 2),
        "min": round(min(ratios), 2),
        "max": round(max(ratios), 2),
    }


def _ratios(ours: list[Start], ref: list[Start]) -> dict[str, Any]:
    pairs = list(zip(ref, ours, strict=True))
    return {
        "first_200": _summary([b.first_200_s / a.first_200_s for a, b in pairs]),
        "cpu": _summary([b.cpu_s / a.cpu_s for a, b in pairs]),
        "port": _summary([b.port_s / a.port_s for a, b in pairs]),
    }


def run(
    bench: Bench,
    requests: dict[str, FirstRequest],
    *,
    rounds: int,
    baseline: Path | None,
) -> dict[str, Any]:
    """``requests``: function name -> the first request, one that answers 200."""
    bin_dir = runtime_env.runtime_bin()
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        folder = Path(scratch)

        def deployed(main: Path, name: str, *, compiled: bool = True) -> Path:
            (folder / name).mkdir()
            return runtime_env.deployed_copy(main, folder / name, compiled=compiled)

        hello = deployed(HELLO_SOURCE, "hello")
        floor = deployed(FLOOR_SOURCE, "floor")
        subjects = [("ours", deployed(bench.stack.functions_source, "ours"), bin_dir)]
        if baseline:
            # The functions as they were, in an environment of the requirements they had: what a
            # deploy of that commit started from (libraries since dropped included).
            theirs = runtime_env.runtime_bin(baseline.parent.parent / "requirements.txt")
            subjects.append(("baseline", deployed(baseline, "baseline"), theirs))
        uncompiled = deployed(bench.stack.functions_source, "ours-py", compiled=False)
        results: dict[str, dict[str, list[Start]]] = {}
        # A baseline that refuses the request asked of this tree (an older request shape):
        # left out for that function, with its answer, rather than failing the run.
        refused: dict[str, str] = {}
        for round_ in range(rounds):
            for name, request in requests.items():
                runs = results.setdefault(name, {})
                order: list[tuple[str, str, Path, FirstRequest | None, Path]] = [
                    ("hello", "hello", hello, None, bin_dir),
                    ("floor", "libraries", floor, None, bin_dir),
                    *(
                        (label, name, src, request, env)
                        for label, src, env in subjects
                        if not (label == "baseline" and name in refused)
                    ),
                ]
                if name == UNCOMPILED:
                    order.append(("uncompiled", name, uncompiled, request, bin_dir))
                shift = round_ % len(order)
                for label, target, source, first, env in order[shift:] + order[:shift]:
                    try:
                        start = cold_start(bench, target, source, first, env)
                    except FirstAnswerRefused as exc:
                        if label != "baseline":
                            raise
                        refused[name] = str(exc)
                        runs.pop(label, None)
                        continue
                    runs.setdefault(label, []).append(start)
    every_hello = [s for r in results.values() for s in r["hello"]]
    every_floor = [s for r in results.values() for s in r["floor"]]
    report: dict[str, Any] = {
        "rounds": rounds,
        "environment": (
            "requirements.txt alone (a baseline's own), Python 3.12, sources staged and compiled"
            " as the archive (tools.build_source)"
        ),
        "hello_first_200_s": round(statistics.median(s.first_200_s for s in every_hello), 3),
        "hello_cpu_s": round(statistics.median(s.cpu_s for s in every_hello), 3),
        "floor_first_200_s": round(statistics.median(s.first_200_s for s in every_floor), 3),
        "floor_cpu_s": round(statistics.median(s.cpu_s for s in every_floor), 3),
        "libraries_floor": _ratios(every_floor, every_hello),
        "functions": {},
    }
    for name, runs in results.items():
        entry: dict[str, Any] = {}
        for label in [label for label, _, _ in subjects if label in runs] + (
            ["uncompiled"] if "uncompiled" in runs else []
        ):
            entry[label] = {
                "vs_hello": _ratios(runs[label], runs["hello"]),
                "vs_floor": _ratios(runs[label], runs["floor"]),
                "first_200_s": round(statistics.median(s.first_200_s for s in runs[label]), 3),
                "cpu_s": round(statistics.median(s.cpu_s for s in runs[label]), 3),
                # What a user's first call waits for when an instance is already up (a
                # minimum instance): from the port accepting to the first 200, the lazy
                # client building included.
                "running_first_call_s": round(
                    statistics.median(s.first_200_s - s.port_s for s in runs[label]), 3
                ),
            }
        report["functions"][name] = entry
    if refused:
        report["baseline_refused"] = refused
    return report
