"""The team helper's checks (packages/billing-usage) give the schema's verdict on each message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from billing_usage import InvalidUsage, UsageReport

SCHEMA = json.loads((Path(__file__).parents[3] / "schemas" / "usage.v1.json").read_text())
GOOD: dict[str, Any] = {
    "version": 1,
    "id": "req-7f3a:1",
    "subject": "alice",
    "meter": "api_calls",
    "value": 3,
    "timestamp": 1_700_000_000,
}
CHANGES: list[dict[str, Any]] = [
    {},
    {"id": ""},
    {"id": "-leading-dash"},
    {"id": "has/slash"},
    {"id": "x" * 100},
    {"id": "x" * 101},
    {"id": "spaces are out"},
    {"subject": ""},
    {"subject": "a/b"},
    {"subject": "s" * 128},
    {"subject": "s" * 129},
    {"subject": 7},
    {"meter": "API_calls"},
    {"meter": "9calls"},
    {"meter": "api.calls"},
    {"meter": "m" * 100},
    {"meter": "m" * 101},
    {"value": 0},
    {"value": -5},
    {"value": 1_000_000_000},
    {"value": 1_000_000_001},
    {"value": 2.5},
    {"value": True},
    {"value": "3"},
    {"timestamp": -1},
    {"timestamp": 0},
    {"timestamp": 1.5},
    {"timestamp": None},
]


def helper_accepts(document: dict[str, Any]) -> bool:
    try:
        UsageReport(**{k: v for k, v in document.items() if k != "version"})
    except InvalidUsage:
        return False
    return True


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: json.dumps(c)[:40])
def test_the_helper_and_the_schema_agree(change: dict[str, Any]) -> None:
    document = GOOD | change
    schema_accepts = jsonschema.Draft202012Validator(SCHEMA).is_valid(document)
    assert helper_accepts(document) == schema_accepts


def test_a_report_the_helper_builds_is_valid_against_the_schema() -> None:
    report = UsageReport(id="a1", subject="bob", meter="exports", value=1, timestamp=5)
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(report.data()))
    assert report.attributes() == {"version": "1", "id": "a1", "meter": "exports"}


def test_an_invalid_report_names_the_field() -> None:
    with pytest.raises(InvalidUsage, match=r"^value:"):
        UsageReport(id="a1", subject="bob", meter="exports", value=0, timestamp=5)
