"""DOWNGRADE_POLICY=period_end over HTTP: a downgrade waits for the period end (a Stripe
subscription schedule), the entitlement keeps the paid plan and shows the pending one, the
renewal bills the new plan; an upgrade, re-selecting the plan or cancelling drops the wait.

change-plan and preview-plan-change run as second instances with the setting, beside the
session stack (as a deployment configured so would); the webhook is the session's own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from google.cloud import firestore

from devstack.stack import Stack
from tests.support.billing_flows import PRICE, intent_id
from tests.support.stack_fixtures import StandIn, User, extra_function
from tests.support.webhooks import wait_for_entitlement

pytestmark = pytest.mark.integration

BASIC, PRO, YEARLY = PRICE, "price_pro_monthly", "price_pro_yearly"
HOUR = 3600
POLICY = {"DOWNGRADE_POLICY": "period_end"}


@pytest.fixture(scope="module")
def urls(running_stack: Stack) -> Iterator[dict[str, str]]:
    with (
        extra_function(running_stack, "change_plan", POLICY) as change,
        extra_function(running_stack, "preview_plan_change", POLICY) as preview,
    ):
        yield {"change": change, "preview": preview}


def _pro(user: User, standin: StandIn) -> str:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRO})
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    return str(created["subscription_id"])


def _post(user: User, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = user.post(url, body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _schedule_downgrade(user: User, urls: dict[str, str], sub_id: str) -> dict[str, Any]:
    result = _post(user, urls["change"], {"subscription_id": sub_id, "price_id": BASIC})
    assert result["status"] == "scheduled"
    return result


def test_a_downgrade_waits_for_the_period_end_and_the_renewal_bills_the_new_plan(
    user: User, standin: StandIn, db: firestore.Client, urls: dict[str, str]
) -> None:
    sub_id = _pro(user, standin)
    sub = standin.sdk.v1.subscriptions.retrieve(sub_id)
    period_end = sub.items.data[0].current_period_end
    invoices_before = standin.sdk.v1.invoices.list({"customer": user.customer()}).data
    preview = _post(user, urls["preview"], {"subscription_id": sub_id, "price_id": BASIC})
    assert (preview["takes_effect"], preview["effective_at"]) == ("period_end", period_end)
    assert (preview["amount_due_now"], preview["credit"], preview["total_now"]) == (0, 0, 0)
    assert preview["next_invoice"]["total"] == 999
    result = _schedule_downgrade(user, urls, sub_id)
    assert (result["effective_at"], result["amount_due"], result["invoice_id"]) == (
        period_end, 0, None,
    )  # fmt: skip
    assert result["subscription"]["price"]["id"] == PRO
    assert (result["subscription"]["pending_price_id"], result["subscription"]["pending_from"]) == (
        BASIC, period_end,
    )  # fmt: skip
    # Nothing charged or credited, still Pro, and the app sees Pro with Basic coming.
    assert standin.sdk.v1.invoices.list({"customer": user.customer()}).data == invoices_before
    assert standin.sdk.v1.customers.retrieve(user.customer()).balance == 0
    doc = wait_for_entitlement(
        db, user.uid, price_id=PRO, pending_price_id=BASIC, pending_from=period_end
    )
    assert "api_access" in doc["features"]
    # A moment before the period ends: still Pro (no one downgraded early).
    standin.post("/_standin/clock/advance", {"seconds": period_end - standin.now() - 120})
    assert standin.sdk.v1.subscriptions.retrieve(sub_id).items.data[0].price.id == PRO
    # Past the period end and the hour a renewal draft waits: Basic, billed at Basic's price.
    standin.post("/_standin/clock/advance", {"seconds": 120 + HOUR + 60})
    renewed = standin.sdk.v1.subscriptions.retrieve(sub_id, {"expand": ["latest_invoice"]})
    invoice = renewed.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == (
        "subscription_cycle", "paid", 999,
    )  # fmt: skip
    doc = wait_for_entitlement(
        db, user.uid, price_id=BASIC, pending_price_id=None, pending_from=None, active=True
    )
    assert doc["features"] == ["reports"]


def test_reselecting_the_plan_drops_the_downgrade_and_an_upgrade_releases_it_first(
    user: User, standin: StandIn, db: firestore.Client, urls: dict[str, str]
) -> None:
    sub_id = _pro(user, standin)
    _schedule_downgrade(user, urls, sub_id)
    wait_for_entitlement(db, user.uid, price_id=PRO, pending_price_id=BASIC)
    kept = _post(user, urls["change"], {"subscription_id": sub_id, "price_id": PRO})
    assert (kept["status"], kept["subscription"]["pending_price_id"]) == ("changed", None)
    assert standin.sdk.v1.subscriptions.retrieve(sub_id).schedule is None
    wait_for_entitlement(db, user.uid, price_id=PRO, pending_price_id=None)
    # Downgrade again, then switch to yearly: that changes now and the wait is dropped.
    _schedule_downgrade(user, urls, sub_id)
    upgraded = _post(user, urls["change"], {"subscription_id": sub_id, "price_id": YEARLY})
    assert upgraded["status"] == "changed"
    assert upgraded["amount_due"] > 0
    sub = standin.sdk.v1.subscriptions.retrieve(sub_id)
    assert (sub.schedule, sub.items.data[0].price.id) == (None, YEARLY)
    wait_for_entitlement(db, user.uid, price_id=YEARLY, pending_price_id=None)


def test_cancelling_while_a_downgrade_waits_releases_it_then_cancels_at_period_end(
    user: User, standin: StandIn, db: firestore.Client, urls: dict[str, str]
) -> None:
    sub_id = _pro(user, standin)
    _schedule_downgrade(user, urls, sub_id)
    canceled = user.ok(
        "handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": True}
    )
    assert (canceled["cancel_at_period_end"], canceled["pending_price_id"]) == (True, None)
    assert standin.sdk.v1.subscriptions.retrieve(sub_id).schedule is None
    wait_for_entitlement(
        db, user.uid, price_id=PRO, cancel_at_period_end=True, pending_price_id=None
    )


def test_a_subscription_that_ends_at_its_period_end_is_not_downgraded_into_continuing(
    user: User, standin: StandIn, urls: dict[str, str]
) -> None:
    """A schedule carries the subscription's cancellation: a Basic phase after the period end
    with end_behavior=release would keep a canceled subscription going and charge it. The
    customer is told to resume first; nothing is scheduled."""
    sub_id = _pro(user, standin)
    user.ok("handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": True})
    for url in (urls["preview"], urls["change"]):
        response = user.post(url, {"subscription_id": sub_id, "price_id": BASIC})
        assert response.status_code == 409, response.text
        assert "resume it first" in response.json()["error"]["message"]
    sub = standin.sdk.v1.subscriptions.retrieve(sub_id)
    assert (sub.schedule, sub.cancel_at_period_end) == (None, True)
