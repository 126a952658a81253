"""Plans with usage over HTTP: subscribing, changing plan and cancelling keep the metered item
right. (The invoice at period end billing the overage is the stand-in's, on its test clock:
tests/standin/test_metered_billing.py; here the shared clock is left alone.)"""

from __future__ import annotations

import uuid

import pytest
import stripe
from google.cloud import firestore

from tests.support.billing_flows import PRICE, subscribe, update_invoices, with_stripe_calls
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import wait_for_entitlement, wait_until

pytestmark = pytest.mark.integration

PRO = "price_pro_monthly"
BASIC_CALLS, PRO_CALLS = "price_basic_api_calls_monthly", "price_pro_api_calls_monthly"


def _items(standin: StandIn, sub_id: str) -> dict[str, stripe.SubscriptionItem]:
    sub = standin.sdk.v1.subscriptions.retrieve(sub_id)
    return {item.price.id: item for item in sub.items.data}


def test_subscribing_changing_plan_and_cancelling_keep_the_metered_item_right(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    assert PRICE == "price_basic_monthly"
    sub_id = subscribe(user, standin)["subscription_id"]
    items = _items(standin, sub_id)
    assert set(items) == {PRICE, BASIC_CALLS}
    assert "quantity" not in items[BASIC_CALLS]  # Stripe refuses one on a metered price
    doc = wait_for_entitlement(db, user.uid, price_id=PRICE, active=True)
    assert doc["limits"]["api_calls"] == {"included": 1000, "overage": True}

    customer = user.customer()
    event = standin.sdk.v1.billing.meter_events.create(
        {
            "event_name": "api_calls",
            "identifier": f"u-{uuid.uuid4().hex}",
            "payload": {"stripe_customer_id": customer, "value": "1500"},
        }
    )
    # Usage up to a change is billed for [period start, change): an event in the same second
    # as the change is not in it. Change once Stripe's clock is past the event's second (on a
    # loaded machine both fell in one second once).
    wait_until(lambda: standin.now() > event.timestamp or None, "the clock past the usage")
    preview = user.ok("preview-plan-change", {"subscription_id": sub_id, "price_id": PRO})
    assert preview["amount_due_now"] > 0
    result, calls = with_stripe_calls(
        standin,
        lambda: user.ok("change-plan", {"subscription_id": sub_id, "price_id": PRO}),
    )
    assert result["status"] == "changed"
    assert result["subscription"]["price"]["id"] == PRO  # the plan, not its metered price
    update = next(c for c in calls if c["method"] == "POST")
    # One update, each price swapped on its own item: nothing added or removed.
    assert sorted(map(str, update["params"]["items"])) == sorted(
        map(
            str,
            [
                {"id": items[PRICE].id, "price": PRO},
                {"id": items[BASIC_CALLS].id, "price": PRO_CALLS},
            ],
        )
    )
    after = _items(standin, sub_id)
    assert set(after) == {PRO, PRO_CALLS}
    assert after[PRO_CALLS].id == items[BASIC_CALLS].id
    # The usage so far is billed with the change, at Basic's price: 500 calls beyond 1,000.
    [invoice] = update_invoices(standin, customer)
    [usage] = [
        line
        for line in invoice.lines.data
        if line.pricing
        and line.pricing.price_details
        and line.pricing.price_details.price == BASIC_CALLS
    ]
    assert (usage.quantity, usage.amount) == (1500, 1000)
    doc = wait_for_entitlement(db, user.uid, price_id=PRO, active=True)
    assert doc["limits"]["api_calls"] == {"included": 10000, "overage": True}

    cancelled = user.ok(
        "handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": True}
    )
    assert cancelled["cancel_at_period_end"] is True
    assert set(_items(standin, sub_id)) == {PRO, PRO_CALLS}  # billed once more, at the end
