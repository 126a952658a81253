"""Stripe Entitlements: active entitlements follow the products a customer is subscribed to."""

from __future__ import annotations

import pytest
import stripe

from tests.standin.conftest import StandinServer

PRO = "price_pro_monthly"


def _active(client: stripe.StripeClient, customer: str) -> set[str]:
    found = client.v1.entitlements.active_entitlements.list({"customer": customer, "limit": 100})
    return {entitlement.lookup_key for entitlement in found.data}


def _summaries(client: stripe.StripeClient, customer: str) -> list[set[str]]:
    events = client.v1.events.list({"limit": 100}).data
    return [
        {e["lookup_key"] for e in event.data.object["entitlements"]["data"]}
        for event in reversed(events)
        if event.type == "entitlements.active_entitlement_summary.updated"
        and event.data.object["customer"] == customer
    ]


def _paid_subscription(client: stripe.StripeClient, email: str) -> tuple[str, stripe.Subscription]:
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": PRO}]})
    assert sub.status == "active"
    return customer.id, sub


def test_a_paid_subscription_provisions_its_products_features_and_says_so(
    client: stripe.StripeClient, email: str
) -> None:
    customer, sub = _paid_subscription(client, email)
    assert _active(client, customer) == {"reports", "api_access", "priority_support"}
    assert _summaries(client, customer) == [{"reports", "api_access", "priority_support"}]
    client.v1.subscriptions.cancel(sub.id)
    assert _active(client, customer) == set()
    assert _summaries(client, customer)[-1] == set()


def test_a_feature_attached_in_stripe_reaches_new_subscribers_at_once_existing_at_renewal(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """https://docs.stripe.com/billing/entitlements: "Existing subscriptions will create active
    entitlements for any product feature changes at the start of the next billing period"."""
    customer, sub = _paid_subscription(client, email)
    key = f"exports_{customer.lower()}"
    feature = client.v1.entitlements.features.create({"name": "Exports", "lookup_key": key})
    client.v1.products.features.create("prod_pro", {"entitlement_feature": feature.id})
    assert key not in _active(client, customer)  # not before their next period
    newcomer, _ = _paid_subscription(client, "new-" + email)
    assert key in _active(client, newcomer)  # a new subscriber has it at once
    now = standin_server.control("GET", "/_standin/clock")["now"]
    standin_server.advance(sub.items.data[0].current_period_end - now + 60)  # renewal
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert key in _active(client, customer)
    assert key in _summaries(client, customer)[-1]


def test_an_unpaid_checkout_provisions_nothing(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": PRO}],
            "payment_behavior": "default_incomplete",
        }
    )
    assert sub.status == "incomplete"
    assert _active(client, customer.id) == set()
    assert _summaries(client, customer.id) == []


def test_active_entitlements_of_an_unknown_customer_is_a_400(
    client: stripe.StripeClient, standin_server: StandinServer
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.entitlements.active_entitlements.list({"customer": "cus_nobody"})
    assert raised.value.param == "customer"
