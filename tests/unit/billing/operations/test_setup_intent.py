"""create-setup-intent sends every parameter it names to Stripe, ``usage`` included.

stripe-python's ``raw_request`` takes a ``usage`` keyword for its own telemetry and never
sends it, so the SetupIntent's ``usage=off_session`` went nowhere when this call went through
``raw.post``. The client here is the real SDK over a recording transport: what is asserted is
the form body that would reach Stripe."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import stripe

from billing.config import BillingSettings
from billing.operations.payment_methods import EmptyRequest, create_setup_intent
from tests.support.fakes import caller_context


class Recording(stripe.HTTPClient):
    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[tuple[str, dict[str, list[str]]]] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        self.posts.append((url, parse_qs(post_data or "")))
        body = {"id": "seti_1", "object": "setup_intent", "client_secret": "seti_1_secret_x"}
        return json.dumps(body), 200, {}

    def close(self) -> None:
        pass


def test_the_setup_intent_is_created_for_off_session_use_on_the_wire(
    settings: BillingSettings,
) -> None:
    http = Recording()
    client = stripe.StripeClient("sk_test_unit", http_client=http)
    answer = create_setup_intent(caller_context(settings, client), EmptyRequest())
    assert (answer.setup_intent_id, answer.client_secret) == ("seti_1", "seti_1_secret_x")
    [(url, form)] = http.posts
    assert url.endswith("/v1/setup_intents")
    assert form["customer"] == ["cus_1"]
    assert form["usage"] == ["off_session"]  # renewals charge the card with nobody there
    assert form["metadata[firebase_uid]"] == ["u1"]
