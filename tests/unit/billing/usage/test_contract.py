"""The metering function's model, the schema and the team helper give one verdict per message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from billing.usage import contract
from billing.usage.contract import Refused
from tests.unit.billing_usage.test_helper_contract import CHANGES, GOOD, helper_accepts

SCHEMA = json.loads((Path(__file__).parents[4] / "schemas" / "usage.v1.json").read_text())
MORE: list[dict[str, Any]] = [
    {"version": 2},
    {"version": "1"},
    {"version": 1.0},
    {"extra": "field"},
    {"value": 3.0},
]


def function_accepts(document: dict[str, Any]) -> bool:
    try:
        contract.parse(json.dumps(document).encode())
    except Refused:
        return False
    return True


@pytest.mark.parametrize("change", CHANGES + MORE, ids=lambda c: json.dumps(c)[:40])
def test_the_function_and_the_schema_agree(change: dict[str, Any]) -> None:
    document = GOOD | change
    assert function_accepts(document) == jsonschema.Draft202012Validator(SCHEMA).is_valid(document)


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: json.dumps(c)[:40])
def test_the_function_and_the_helper_agree(change: dict[str, Any]) -> None:
    assert function_accepts(GOOD | change) == helper_accepts(GOOD | change)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff", "not_utf8"),
        (b"{", "not_json"),
        (b"[1]", "schema"),
        (json.dumps(GOOD | {"version": 2}).encode(), "unknown_version"),
        (json.dumps(GOOD | {"value": 0}).encode(), "schema"),
    ],
)
def test_an_unreadable_message_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Refused) as refused:
        contract.parse(data)
    assert refused.value.reason == reason


def test_the_digest_tells_two_reports_under_one_id_apart() -> None:
    first = contract.parse(json.dumps(GOOD).encode())
    same = contract.parse(json.dumps(GOOD).encode())
    other = contract.parse(json.dumps(GOOD | {"value": 4}).encode())
    assert first.digest() == same.digest() != other.digest()
