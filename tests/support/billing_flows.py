"""Steps a frontend takes with Stripe.js, done here through the stand-in's API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.support.mode import OTHER_PRICE, PRICE
from tests.support.stack import PATIENCE_S
from tests.support.stack_fixtures import StandIn, User

__all__ = ["OTHER_PRICE", "PRICE"]


def intent_id(client_secret: str) -> str:
    return client_secret.split("_secret_")[0]


def subscribe(user: User, standin: StandIn, card: str = "pm_card_visa") -> dict[str, Any]:
    """Customer, subscription, and the first payment confirmed as Stripe.js would."""
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE})
    assert created["client_secret_type"] == "payment"
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": card}
    )
    return created


def failed_first_payment(user: User, standin: StandIn) -> dict[str, Any]:
    """A subscription whose first payment was declined: incomplete, its invoice open."""
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE})
    with pytest.raises(stripe.CardError):
        standin.sdk.v1.payment_intents.confirm(
            intent_id(created["client_secret"]),
            params={"payment_method": "pm_card_chargeDeclined"},
        )
    view = user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    return {
        "view": view,
        "subscription_id": view["subscription_id"],
        "invoice_id": view["latest_invoice"]["id"],
    }


def saved_card(user: User, standin: StandIn, card: str = "pm_card_visa") -> str:
    """A card saved the current way: SetupIntent from the function, confirmed by Stripe.js
    (with 3-D Secure completed when the card asks for it)."""
    intent = user.ok("create-setup-intent", {})
    assert "_secret_" in intent["client_secret"]
    confirmed = standin.sdk.v1.setup_intents.confirm(
        intent["setup_intent_id"], params={"payment_method": card}
    )
    if confirmed.status == "requires_action":
        standin.post(f"/_standin/setup_intents/{confirmed.id}/authenticate", {"outcome": "succeed"})
        confirmed = standin.sdk.v1.setup_intents.retrieve(confirmed.id)
    assert confirmed.status == "succeeded"
    assert isinstance(confirmed.payment_method, str)
    return confirmed.payment_method


def with_stripe_calls[T](
    standin: StandIn, action: Callable[[], T]
) -> tuple[T, list[dict[str, Any]]]:
    """``action()``'s result and the Stripe requests made while it ran (tests run serially).

    Webhook deliveries are held meanwhile: the webhook function's own Stripe reads are not the
    action's."""
    was_paused = bool(standin.webhooks()["paused"])
    standin.post("/_standin/webhooks/pause")
    try:
        deadline = time.monotonic() + PATIENCE_S
        while (status := standin.webhooks())["queued"] or status["in_flight"]:
            assert time.monotonic() < deadline, f"webhook deliveries did not settle: {status}"
            time.sleep(0.05)
        before = max((r["seq"] for r in standin.requests()), default=0)
        result = action()
        return result, [r for r in standin.requests() if r["seq"] > before]
    finally:
        if not was_paused:
            standin.post("/_standin/webhooks/resume", {"order": "as_is"})


def use_card(user: User, standin: StandIn, card: str) -> str:
    """Save ``card`` and make it the one the caller's subscription charges."""
    pm = saved_card(user, standin, card)
    user.ok("update-payment-method", {"payment_method_id": pm})
    return pm


def update_invoices(standin: StandIn, customer: str) -> list[stripe.Invoice]:
    """The customer's plan-change invoices in the stand-in (what was billed for changes)."""
    invoices = standin.sdk.v1.invoices.list(params={"customer": customer, "limit": 100}).data
    return [i for i in invoices if i.billing_reason == "subscription_update"]
