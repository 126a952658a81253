"""Metered prices on subscriptions: usage billed in arrears from the meter, on the test clock.

The catalog's plans carry metered prices (graduated: the quota free, then per unit): Basic
includes 1,000 API calls and bills 2 cents per call beyond, Pro includes 10,000 and bills 1 cent.
"""

from __future__ import annotations

import uuid

import pytest
import stripe

from devstack.stripe_standin.dunning import FINALIZE_DELAY
from tests.standin.conftest import StandinServer, active_subscription

BASIC, PRO = "price_basic_monthly", "price_pro_monthly"
BASIC_CALLS, PRO_CALLS = "price_basic_api_calls_monthly", "price_pro_api_calls_monthly"


def _subscribe(client: stripe.StripeClient, email: str, *prices: str) -> stripe.Subscription:
    return active_subscription(client, email, *prices, expand=["latest_invoice"])


def _report(client: stripe.StripeClient, customer: str, value: int, identifier: str) -> None:
    client.v1.billing.meter_events.create(
        {
            "event_name": "api_calls",
            "identifier": identifier,
            "payload": {"stripe_customer_id": customer, "value": str(value)},
        }
    )


def _item(sub: stripe.Subscription, price: str) -> stripe.SubscriptionItem:
    return next(item for item in sub.items.data if item.price.id == price)


def _invoices(client: stripe.StripeClient, sub: stripe.Subscription) -> list[stripe.Invoice]:
    return list(client.v1.invoices.list({"subscription": sub.id, "limit": 100}).data)


def _usage_line(invoice: stripe.Invoice, price: str) -> stripe.InvoiceLineItem:
    (line,) = [
        line
        for line in invoice.lines.data
        if line.pricing and line.pricing.price_details and line.pricing.price_details.price == price
    ]
    return line


def _to_period_end(server: StandinServer, sub: stripe.Subscription) -> None:
    """Past the period's end and the hour its renewal draft waits before it is charged."""
    now = server.control("GET", "/_standin/clock")["now"]
    server.advance(sub.items.data[0].current_period_end - now + FINALIZE_DELAY + 1)


def test_the_metered_overage_is_billed_on_the_invoice_at_period_end(
    standin_server: StandinServer, client: stripe.StripeClient, email: str
) -> None:
    sub = _subscribe(client, email, PRO, PRO_CALLS)
    first = sub.latest_invoice
    assert isinstance(first, stripe.Invoice)
    assert first.total == 2900  # the plan in advance; usage is billed in arrears
    assert "quantity" not in _item(sub, PRO_CALLS)  # a metered item has none
    customer = str(sub.customer)
    _report(client, customer, 9_000, "use-a")
    _report(client, customer, 1_200, "use-b")
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        _report(client, customer, 1_200, "use-b")  # a repeat is not counted (nor billed)
    _report(client, customer, 50, "use-c")
    _to_period_end(standin_server, sub)
    renewal = next(i for i in _invoices(client, sub) if i.billing_reason == "subscription_cycle")
    line = _usage_line(renewal, PRO_CALLS)
    # 10,250 calls: 10,000 included, 250 beyond at 1 cent.
    assert (line.quantity, line.amount) == (10_250, 250)
    assert line.period.start == sub.items.data[0].current_period_start
    assert line.period.end == sub.items.data[0].current_period_end
    assert renewal.total == 2900 + 250
    assert renewal.status == "paid"


def test_usage_within_the_quota_is_billed_at_nothing(
    standin_server: StandinServer, client: stripe.StripeClient, email: str
) -> None:
    sub = _subscribe(client, email, BASIC, BASIC_CALLS)
    _report(client, str(sub.customer), 1_000, f"u-{uuid.uuid4().hex}")
    _to_period_end(standin_server, sub)
    renewal = next(i for i in _invoices(client, sub) if i.billing_reason == "subscription_cycle")
    line = _usage_line(renewal, BASIC_CALLS)
    assert (line.quantity, line.amount, renewal.total) == (1_000, 0, 999)


def test_a_metered_price_takes_no_quantity(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email, "payment_method": "pm_card_visa"})
    with pytest.raises(stripe.InvalidRequestError, match="Quantity should not be specified"):
        client.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": PRO}, {"price": PRO_CALLS, "quantity": 1}],
            }
        )


def test_a_plan_change_swaps_the_metered_price_and_bills_the_usage_so_far(
    standin_server: StandinServer, client: stripe.StripeClient, email: str
) -> None:
    sub = _subscribe(client, email, BASIC, BASIC_CALLS)
    customer = str(sub.customer)
    _report(client, customer, 1_500, f"u-{uuid.uuid4().hex}")  # 500 beyond Basic's 1,000
    standin_server.advance(10 * 86_400)
    changed = client.v1.subscriptions.update(
        sub.id,
        {
            "items": [
                {"id": _item(sub, BASIC).id, "price": PRO},
                {"id": _item(sub, BASIC_CALLS).id, "price": PRO_CALLS},
            ],
            "proration_behavior": "always_invoice",
            "payment_behavior": "pending_if_incomplete",
            "expand": ["latest_invoice"],
        },
    )
    assert sorted(item.price.id for item in changed.items.data) == sorted([PRO, PRO_CALLS])
    invoice = changed.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    # Flexible billing mode: the usage so far is billed at the old price with the change.
    line = _usage_line(invoice, BASIC_CALLS)
    assert (line.quantity, line.amount) == (1_500, 500 * 2)
    _report(client, customer, 10_300, f"u-{uuid.uuid4().hex}")
    _to_period_end(standin_server, changed)
    renewal = next(i for i in _invoices(client, sub) if i.billing_reason == "subscription_cycle")
    line = _usage_line(renewal, PRO_CALLS)
    # Only the usage since the change, at the new price: 300 beyond Pro's 10,000.
    assert (line.quantity, line.amount) == (10_300, 300)
    assert not [
        line
        for line in renewal.lines.data
        if line.pricing
        and line.pricing.price_details
        and line.pricing.price_details.price == BASIC_CALLS
    ]


def test_a_metered_item_cannot_turn_licensed(client: stripe.StripeClient, email: str) -> None:
    sub = _subscribe(client, email, BASIC, BASIC_CALLS)
    with pytest.raises(stripe.InvalidRequestError, match="licensed and metered"):
        client.v1.subscriptions.update(
            sub.id,
            {
                "items": [{"id": _item(sub, BASIC_CALLS).id, "price": PRO}],
                "proration_behavior": "always_invoice",
                "payment_behavior": "pending_if_incomplete",
            },
        )


def test_a_subscription_cancelled_at_period_end_bills_its_last_usage(
    standin_server: StandinServer, client: stripe.StripeClient, email: str
) -> None:
    sub = _subscribe(client, email, PRO, PRO_CALLS)
    _report(client, str(sub.customer), 10_040, f"u-{uuid.uuid4().hex}")
    client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    _to_period_end(standin_server, sub)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    (final,) = [i for i in _invoices(client, sub) if i.billing_reason == "subscription_cycle"]
    line = _usage_line(final, PRO_CALLS)
    assert (line.quantity, line.amount, final.total) == (10_040, 40, 40)
    assert [ln.pricing.price_details.price for ln in final.lines.data if ln.pricing] == [PRO_CALLS]  # type: ignore[union-attr]
