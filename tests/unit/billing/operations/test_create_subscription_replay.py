"""create-subscription says ``created`` from Stripe's replay header, under its own key.

The creation is sent under ``create-subscription:{customer}:{newest subscription}``; when
Stripe answers it with the stored result of an earlier request with that key
(``Idempotent-Replayed: true``, https://docs.stripe.com/api/idempotent_requests), this call
made nothing and says ``created: false``. No other test reads that flag through the operation:
``created = True`` always passed the integration tests. The fake answers Stripe's JSON through
``raw_request``, with the headers Stripe would send."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from billing.config import BillingSettings
from billing.operations._one_subscription import Opened
from billing.operations.subscriptions import CreateSubscriptionRequest, _create_subscription
from tests.support.fakes import caller_context

SUB = {
    "id": "sub_new",
    "object": "subscription",
    "status": "incomplete",
    "latest_invoice": {
        "id": "in_1",
        "object": "invoice",
        "status": "open",
        "amount_due": 1000,
        "confirmation_secret": {"client_secret": "pi_1_secret_x", "type": "payment_intent"},
    },
    "pending_setup_intent": None,
}


class Stripe:
    def __init__(self, replayed: bool) -> None:
        self.replayed = replayed
        self.keys: list[str | None] = []

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        if method == "get" and path in ("/v1/subscriptions", "/v1/checkout/sessions"):
            return SimpleNamespace(data={"object": "list", "data": [], "has_more": False})
        assert (method, path) == ("post", "/v1/subscriptions"), (method, path)
        self.keys.append(params.get("idempotency_key"))
        headers = {"Idempotent-Replayed": "true"} if self.replayed else {}
        return SimpleNamespace(data=SUB, headers=headers)


@pytest.mark.parametrize("replayed", [False, True])
def test_created_is_false_exactly_when_stripe_replayed_the_creation(
    settings: BillingSettings, replayed: bool
) -> None:
    fake = Stripe(replayed)
    ctx = caller_context(settings, fake)
    body = CreateSubscriptionRequest(price_id="price_basic_monthly")
    answer = _create_subscription(ctx, body, "cus_1", Opened())
    assert fake.keys == ["create-subscription:cus_1:none"]
    assert (answer.subscription_id, answer.client_secret) == ("sub_new", "pi_1_secret_x")
    assert answer.created is (not replayed)
