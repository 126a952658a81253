"""The email function reads exactly the messages schemas/notification.v1.json allows.

The function validates with pydantic models (mailer.contract); the schema file is the contract
the webhook publishes against. Both judge the same few hundred messages here, the samples of
every type and each of them with one field removed, added or set to each value of a pool of
likely mistakes, and must agree on every one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mailer.contract import Notification, Unsendable, parse
from tools.mail_samples import SAMPLES, notification

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schemas" / "notification.v1.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    # JSON Schema patterns are ECMA-262, where "$" ends the text; Python's re also lets "$"
    # match before a final newline ("usd\n" would pass "^[a-z]{3}$"). Same check otherwise.
    if not validator.is_type(instance, "string"):
        return
    ecma = re.sub(r"(?<!\\)\$$", r"\\Z", pattern)
    if not re.search(ecma, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Reference = jsonschema.validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
REFERENCE = Reference(SCHEMA)

POOL: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 1.5, 2**31, 2**63, 10**30,
    "", "x", "usd", "USD", "usd\n", "us", "sub_1", "in_1", "evt_1:payment_failed",
    "evt_1:payment_failed\n", "evt_:x", "evt_1:Paid", "evt_1", "e" * 201,
    "payment_succeeded", "trial_will_end", "paid", [], {}, ["x"], {"id": "sub_1"},
]  # fmt: skip


def _paths(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in document.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(document))
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def _delete(document: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(document))
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def cases() -> Iterator[Any]:
    # One sample per type (with and without nulls), and one that breaks the if/then rules.
    names = [
        "payment_succeeded-usd",
        "payment_failed-final",
        "payment_action_required",
        "subscription_canceled-ended",
        "trial_will_end",
    ]
    bases = [SAMPLES[name] for name in names] + [notification("payment_failed", invoice=None)]
    for base in bases:
        yield base
        for path in _paths(base):
            yield _delete(base, path)
            yield _set(base, (*path[:-1], "unexpected"), 1)
            for value in POOL:
                yield _set(base, path, value)
    yield from (None, [], "text", 1, {}, [SAMPLES["trial_will_end"]])


def _pydantic_accepts(document: Any) -> bool:
    try:
        parse(json.dumps(document).encode())
    except Unsendable:
        return False
    return True


def test_the_models_and_the_schema_file_agree_on_every_case() -> None:
    disagreements = []
    total = accepted = 0
    for document in cases():
        total += 1
        expected = REFERENCE.is_valid(document)
        accepted += expected
        if _pydantic_accepts(document) != expected:
            disagreements.append((expected, json.dumps(document)[:300]))
    assert not disagreements, disagreements[:5]
    # The cases must exercise both verdicts, plenty of each.
    assert total > 4000
    assert 100 < accepted < total - 3000


def test_every_sample_is_a_valid_notification() -> None:
    for name, sample in SAMPLES.items():
        assert REFERENCE.is_valid(sample), name
        assert isinstance(parse(json.dumps(sample).encode()), Notification)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe{}", "not_utf8"),
        (b"not json", "not_json"),
        (b"[" * 100_000 + b"]" * 100_000, "not_json"),
        (b'"just a string"', "schema"),
        (json.dumps(SAMPLES["trial_will_end"] | {"version": 2}).encode(), "unknown_version"),
        (
            json.dumps(SAMPLES["trial_will_end"] | {"type": "refund_issued"}).encode(),
            "unknown_type",
        ),
        (json.dumps(SAMPLES["trial_will_end"] | {"subscription": None}).encode(), "schema"),
    ],
)
def test_a_bad_message_is_unsendable_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Unsendable) as raised:
        parse(data)
    assert raised.value.reason == reason


def test_the_reason_names_the_field_but_never_echoes_its_value() -> None:
    document = SAMPLES["payment_succeeded-usd"] | {"email": 42, "customer_name": 7}
    document["invoice"] = document["invoice"] | {"currency": "dollars-of-secret-name"}
    with pytest.raises(Unsendable) as raised:
        parse(json.dumps(document).encode())
    message = str(raised.value)
    assert "invoice.currency" in message
    assert "email" in message
    assert "dollars-of-secret-name" not in message
