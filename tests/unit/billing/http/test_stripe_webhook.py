"""Stripe-Signature checks, on the raw body, against every configured secret."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import stripe
from flask.testing import FlaskClient
from pydantic import SecretStr

from billing.config import BillingSettings
from billing.context import Context
from billing.errors import BadRequest
from billing.http.stripe_webhook import Event, StripeWebhookEndpoint, parse_event, verify
from billing.runtime import Runtime
from tests.support.helpers import client_for

BODY = b'{"id": "evt_1", "type": "invoice.paid"}'
OLD, NEW = "whsec_old" + "o" * 24, "whsec_new" + "n" * 24


def header(secret: str, *, body: bytes = BODY, at: int | None = None) -> str:
    signed: str = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=at or int(time.time())
    )
    return signed


def test_any_configured_secret_verifies() -> None:
    verify(BODY, header(OLD), [NEW, OLD], 300)
    verify(BODY, header(NEW), [NEW, OLD], 300)


def test_one_matching_v1_among_several_verifies() -> None:
    signed = header(NEW)
    timestamp, good = signed.split(",")
    verify(BODY, f"{timestamp},v1={'0' * 64},{good}", [NEW], 300)


# Each bad header is built when its test runs, not when the module is collected: a suite
# can take longer than the 300 s tolerance, and a "future" timestamp taken at collection
# would by then be within it.
BAD_HEADERS: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "empty": lambda: "",
    "garbage": lambda: "garbage",
    "another secret": lambda: header("whsec_other" + "x" * 24),
    "another body": lambda: header(NEW, body=b"{}"),
    "301 s old": lambda: header(NEW, at=int(time.time()) - 301),
    "900 s ahead": lambda: header(NEW, at=int(time.time()) + 900),
    "ten years ahead": lambda: header(NEW, at=int(time.time()) + 10 * 365 * 86_400),
    "v0 scheme": lambda: header(NEW).replace("v1=", "v0="),
}


@pytest.mark.parametrize("bad", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_anything_else_is_refused(bad: Callable[[], str | None]) -> None:
    with pytest.raises(BadRequest) as refused:
        verify(BODY, bad(), [NEW, OLD], 300)
    assert refused.value.code == "invalid_signature"


def test_no_configured_secret_verifies_nothing() -> None:
    with pytest.raises(BadRequest):
        verify(BODY, header(NEW), [], 300)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"id": "evt_1"}', b'{"id": "x", "type": "a", "livemode": false, '
     b'"data": {"object": {}}}', b"[" * 5000],
)  # fmt: skip
def test_a_body_that_is_not_an_event_is_refused(body: bytes) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_event(body)
    assert refused.value.code == "malformed_event"


def test_a_signature_within_the_tolerance_on_either_side_verifies() -> None:
    # Clocks differ a little both ways; the bound is symmetric, as in stripe-php and -dotnet.
    verify(BODY, header(NEW, at=int(time.time()) - 250), [NEW], 300)
    verify(BODY, header(NEW, at=int(time.time()) + 250), [NEW], 300)


def test_a_future_timestamp_is_refused_whichever_secret_signed_it() -> None:
    with pytest.raises(BadRequest, match="future") as refused:
        verify(BODY, header(OLD, at=int(time.time()) + 3600), [NEW, OLD], 300)
    assert refused.value.code == "invalid_signature"


ENVELOPE = {"id": "evt_1", "type": "invoice.paid", "livemode": False, "created": 1}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ("x", "data is not an object"),
        (None, "data is not an object"),
        ([1], "data is not an object"),
        (7, "data is not an object"),
        ({}, "data.object is not an object"),
        ({"object": "x"}, "data.object is not an object"),
    ],
)
def test_data_that_is_not_an_object_is_a_malformed_event_naming_it(
    data: object, named: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_event(json.dumps(ENVELOPE | {"data": data}).encode())
    assert refused.value.code == "malformed_event"
    assert named in refused.value.message


def test_a_well_formed_envelope_parses() -> None:
    event = ENVELOPE | {"data": {"object": {"id": "in_1"}}}
    assert parse_event(json.dumps(event).encode()) == event


def _endpoint_with(settings: BillingSettings, key: str) -> tuple[FlaskClient, list[Event]]:
    processed: list[Event] = []

    def process(ctx: Context, event: Event) -> str:
        processed.append(event)
        return "processed"

    configured = settings.model_copy(
        update={"stripe_secret_key": SecretStr(key), "stripe_webhook_secrets": [SecretStr(NEW)]}
    )
    endpoint = StripeWebhookEndpoint("stripe-webhook", process)
    return client_for(endpoint, Runtime(configured)), processed


@pytest.mark.parametrize(
    ("key", "livemode", "outcome"),
    [
        ("sk_live_unit", False, "ignored_other_mode"),  # a test event never touches live state
        ("sk_test_unit", True, "ignored_other_mode"),
        ("sk_live_unit", True, "processed"),
        ("sk_test_unit", False, "processed"),
    ],
)
def test_only_events_of_the_keys_mode_are_processed(
    settings: BillingSettings, key: str, livemode: bool, outcome: str
) -> None:
    client, processed = _endpoint_with(settings, key)
    event = ENVELOPE | {"livemode": livemode, "data": {"object": {"customer": "cus_1"}}}
    body = json.dumps(event).encode()
    response = client.post("/", data=body, headers={"Stripe-Signature": header(NEW, body=body)})
    assert response.status_code == 200, response.text
    assert response.get_json()["outcome"] == outcome
    assert processed == ([event] if outcome == "processed" else [])
