"""docs/performance.md quotes the last whole `make bench` run: its table is generated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import (
    BEGIN,
    END,
    TARGETS_BEGIN,
    TARGETS_END,
    markdown,
    registry_functions,
    targets,
    write_into,
)

REPO = Path(__file__).resolve().parents[3]


def test_the_docs_table_is_the_last_runs_results() -> None:
    results = json.loads((REPO / "benchmarks" / "results.json").read_text())
    doc = (REPO / "docs" / "performance.md").read_text()
    generated = doc.partition(BEGIN)[2].partition(END)[0]
    assert generated.strip() == markdown(results).strip(), "run `make bench` to regenerate"


def test_writing_replaces_only_the_generated_part() -> None:
    results = {"machine": {"cpus": 2, "python": "3.12"}, "seconds": 1.0, "load": "1.0 -> 1.0"}
    doc = f"# Performance\n\nwords\n\n{BEGIN}\nold table\n{END}\n\nmore words\n"
    written = write_into(doc, results)
    assert written.startswith("# Performance\n\nwords\n\n")
    assert written.endswith(f"{END}\n\nmore words\n")
    assert "old table" not in written
    assert markdown(results) in written
    with pytest.raises(ValueError, match="markers"):
        write_into("no markers here", results)


def test_webhook_events_are_reported_side_by_side_with_their_ratio() -> None:
    side = {"events": 240, "duplicates": 32, "non_200": 0, "cpu_ms_per_event": 12.5}
    results = {
        "webhook_events": {
            "senders": 8,
            "ours": side | {"per_second": 30.0, "halves_per_second": [29.0, 31.0]},
            "baseline": side | {"per_second": 24.0, "halves_per_second": [23.5, 24.5]},
        }
    }
    table = markdown(results)
    assert "30.0/s (halves 29.0, 31.0), CPU 12.5 ms/event" in table
    assert "before: 24.0/s (halves 23.5, 24.5)" in table
    assert "ratio 1.25x" in table


def test_the_docs_targets_are_the_last_runs_results() -> None:
    results = json.loads((REPO / "benchmarks" / "results.json").read_text())
    doc = (REPO / "docs" / "performance.md").read_text()
    generated = doc.partition(TARGETS_BEGIN)[2].partition(TARGETS_END)[0]
    expected = targets(results, registry_functions())
    assert generated.strip() == expected.strip(), "run `make bench` to regenerate"


def test_a_target_is_met_up_to_its_goal_and_missed_past_it() -> None:
    def cold(median: float) -> dict[str, object]:
        ratio = {"median": median, "min": median, "max": median}
        return {"ours": {"vs_floor": {"cpu": ratio}}}

    def own(p50: float, p99: float) -> dict[str, object]:
        return {"ours": {"overhead_p50_ms": p50, "overhead_p99_ms": p99, "cpu_ms_per_request": 1}}

    spread = {"median": 2.5, "min": 2.0, "max": 3.0}
    results = {
        "cold_start": {
            "rounds": 7,
            "libraries_floor": {"first_200": spread, "cpu": spread},
            "functions": {"a": cold(1.10), "b": cold(1.11)},
        },
        "latency": {"x": own(5.0, 20.0), "y": own(5.01, 3.0), "z": own(2.0, 20.5)},
    }
    text = targets(results, ["a", "b", "c"])
    assert "met by 1 of 2** (a 1.10x (1.10-1.10)); **missed by** b 1.11x" in text
    assert "**Not measured** (the bench starts 2 of the 3 functions" in text
    assert "`c`" in text
    assert "met by 1 of 3** (x 5.0 / 20.0 ms" in text
    assert "**missed by** y 5.01 / 3.0 ms (CPU 1 ms/req), z 2.0 / 20.5 ms" in text
