"""preview-plan-change and change-plan over HTTP: what the subscriber pays, and when the plan
actually changes."""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from google.cloud import firestore

from tests.support.billing_flows import (
    PRICE,
    intent_id,
    subscribe,
    update_invoices,
    use_card,
    with_stripe_calls,
)
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import event_record, wait_for_entitlement, wait_until

pytestmark = pytest.mark.integration

PRO = "price_pro_monthly"
DAY = 86_400


def _change(user: User, sub_id: str, price: str = PRO, **extra: Any) -> dict[str, Any]:
    return user.ok("change-plan", {"subscription_id": sub_id, "price_id": price, **extra})


def _price(standin: StandIn, sub_id: str) -> str:
    return standin.sdk.v1.subscriptions.retrieve(sub_id).items.data[0].price.id


def test_an_upgrade_is_charged_now_and_takes_effect_now(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    preview = user.ok("preview-plan-change", {"subscription_id": sub_id, "price_id": PRO})
    assert (preview["current_price_id"], preview["price_id"]) == (PRICE, PRO)
    assert preview["amount_due_now"] == preview["charge"] - preview["credit"] > 0
    assert preview["next_invoice"]["total"] == 2900
    result, calls = with_stripe_calls(standin, lambda: _change(user, sub_id))
    assert result["status"] == "changed"
    assert result["subscription"]["price"]["id"] == PRO
    assert _price(standin, sub_id) == PRO
    [invoice] = update_invoices(standin, user.customer())
    assert (invoice.id, invoice.status) == (result["invoice_id"], "paid")
    assert invoice.amount_paid == result["amount_due"] > 0
    update = next(c for c in calls if c["method"] == "POST")
    assert update["params"]["proration_behavior"] == "always_invoice"
    assert update["params"]["payment_behavior"] == "pending_if_incomplete"
    # The webhook's sync brings the new plan and its features to the app.
    doc = wait_for_entitlement(db, user.uid, price_id=PRO, active=True)
    assert doc["product_id"] == "prod_pro"
    assert "api_access" in doc["features"]


def test_a_declined_upgrade_leaves_the_old_plan_until_paid(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    use_card(user, standin, "pm_card_chargeCustomerFail")
    result = _change(user, sub_id)
    assert result["status"] == "payment_failed"
    assert result["message"] == "Your card was declined."
    assert result["subscription"]["price"]["id"] == PRICE
    assert result["subscription"]["status"] == "active"
    assert _price(standin, sub_id) == PRICE
    [invoice] = update_invoices(standin, user.customer())
    assert (invoice.status, invoice.amount_paid) == ("open", 0)
    assert result["pending_until"] > invoice.created
    # Asking again while it waits hands back the same payment, and charges nothing more.
    again = _change(user, sub_id)
    assert (again["invoice_id"], again["client_secret"]) == (invoice.id, result["client_secret"])
    assert len(update_invoices(standin, user.customer())) == 1
    doc = wait_for_entitlement(db, user.uid, price_id=PRICE, active=True)
    assert doc["features"] == ["reports"]  # still Basic: nothing of Pro before it is paid
    # The frontend pays with another card (Stripe.js): now the plan changes.
    standin.sdk.v1.payment_intents.confirm(
        intent_id(result["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    assert _price(standin, sub_id) == PRO
    assert standin.sdk.v1.invoices.retrieve(str(invoice.id)).status == "paid"
    wait_for_entitlement(db, user.uid, price_id=PRO, active=True)
    # Stripe says so with customer.subscription.pending_update_applied: the webhook syncs on it
    # (subscribed to, not acknowledged as irrelevant).
    applied = standin.sdk.v1.events.list(
        params={"type": "customer.subscription.pending_update_applied", "limit": 100}
    ).data
    [event] = [e for e in applied if e.data.object["id"] == sub_id]

    def synced() -> bool:
        record = event_record(db, event.id)
        return bool(record and record.get("status") == "done" and record.get("synced"))

    wait_until(synced, "pending_update_applied to be synced")


def test_an_upgrade_needing_3ds_waits_for_the_customer(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    card = use_card(user, standin, "pm_card_authenticationRequired")
    result = _change(user, sub_id)
    assert result["status"] == "requires_action"
    assert "_secret_" in result["client_secret"]
    assert _price(standin, sub_id) == PRICE
    pi = standin.sdk.v1.payment_intents.retrieve(intent_id(result["client_secret"]))
    assert (pi.status, pi.payment_method) == ("requires_action", card)
    wait_for_entitlement(db, user.uid, price_id=PRICE, active=True)
    standin.post(f"/_standin/payment_intents/{pi.id}/authenticate", {"outcome": "succeed"})
    assert _price(standin, sub_id) == PRO
    wait_for_entitlement(db, user.uid, price_id=PRO, active=True)


def test_a_downgrade_keeps_the_paid_time_as_credit(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRO})
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    sub_id = created["subscription_id"]
    preview = user.ok("preview-plan-change", {"subscription_id": sub_id, "price_id": PRICE})
    assert preview["amount_due_now"] == 0
    assert preview["credit"] > preview["charge"] > 0
    assert preview["total_now"] == preview["charge"] - preview["credit"] < 0
    result = _change(user, sub_id, PRICE, proration_date=preview["proration_date"])
    assert (result["status"], result["amount_due"]) == ("changed", 0)
    assert _price(standin, sub_id) == PRICE
    # Nothing was charged, and the unused time on Pro stays on the account for the next bills.
    [invoice] = update_invoices(standin, user.customer())
    assert (invoice.amount_paid, invoice.total) == (0, preview["total_now"])
    customer = standin.sdk.v1.customers.retrieve(user.customer())
    assert customer.balance == preview["total_now"]
    assert (customer.balance or 0) <= -(2900 - 999) * 0.99  # nearly a month's difference
    doc = wait_for_entitlement(db, user.uid, price_id=PRICE, active=True)
    assert doc["features"] == ["reports"]


# --- Switching between monthly and yearly billing: Stripe restarts the billing period at the
# change and charges the new period at once, less the unused time (plan_changes' docstring).

YEARLY = "price_pro_yearly"
YEAR = 365 * DAY


def _period(standin: StandIn, sub_id: str) -> tuple[int, int, int]:
    """(billing_cycle_anchor, current_period_start, current_period_end) as Stripe has them."""
    sub = standin.sdk.v1.subscriptions.retrieve(sub_id)
    item = sub.items.data[0]
    return sub.billing_cycle_anchor, item.current_period_start, item.current_period_end


def test_monthly_to_yearly_charges_the_year_less_the_unused_month_as_previewed(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    _, _, month_end = _period(standin, sub_id)
    preview = user.ok("preview-plan-change", {"subscription_id": sub_id, "price_id": YEARLY})
    assert preview["charge"] == 29000  # the whole first year, not the rest of the month
    assert 0 < preview["credit"] <= 999
    assert preview["amount_due_now"] == preview["total_now"] == 29000 - preview["credit"]
    assert preview["next_invoice"]["total"] == 29000
    renews = preview["next_invoice"]["date"]
    assert renews - preview["proration_date"] in (YEAR, YEAR + DAY)
    result = _change(user, sub_id, YEARLY, proration_date=preview["proration_date"])
    assert (result["status"], result["amount_due"]) == ("changed", preview["amount_due_now"])
    [invoice] = update_invoices(standin, user.customer())
    assert (invoice.status, invoice.amount_paid) == ("paid", preview["amount_due_now"])
    anchor, start, end = _period(standin, sub_id)
    # The period restarted when the change was made (the anchor moved with it), a year long.
    assert anchor == start >= preview["proration_date"]
    assert end - start in (YEAR, YEAR + DAY)
    assert end > month_end + 300 * DAY
    doc = wait_for_entitlement(db, user.uid, price_id=YEARLY, active=True)
    assert doc["current_period_end"] == end
    assert "api_access" in doc["features"]


def test_yearly_to_monthly_keeps_the_unused_year_as_credit_as_previewed(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": YEARLY})
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    sub_id = created["subscription_id"]
    preview = user.ok("preview-plan-change", {"subscription_id": sub_id, "price_id": PRO})
    assert preview["charge"] == 2900  # the first month of the new interval, in full
    assert preview["credit"] > 29000 * 0.99  # the year has barely begun
    assert (preview["amount_due_now"], preview["total_now"]) == (0, 2900 - preview["credit"])
    assert 28 * DAY <= preview["next_invoice"]["date"] - preview["proration_date"] <= 31 * DAY
    result = _change(user, sub_id, PRO, proration_date=preview["proration_date"])
    assert (result["status"], result["amount_due"]) == ("changed", 0)
    [invoice] = update_invoices(standin, user.customer())
    assert (invoice.amount_paid, invoice.total) == (0, preview["total_now"])
    customer = standin.sdk.v1.customers.retrieve(user.customer())
    assert customer.balance == preview["total_now"]
    anchor, start, end = _period(standin, sub_id)
    assert anchor == start >= preview["proration_date"]
    assert 28 * DAY <= end - start <= 31 * DAY
    doc = wait_for_entitlement(db, user.uid, price_id=PRO, active=True)
    assert doc["current_period_end"] == end


def test_the_charge_is_what_the_preview_showed_on_a_clock_moved_ahead(
    user: User, standin: StandIn
) -> None:
    """The customers' test clock runs ten days ahead of the functions' wall clock: the
    preview's date is judged on Stripe's clock (not "in the future"), and fixes the charge."""
    sub_id = subscribe(user, standin)["subscription_id"]
    standin.post("/_standin/clock/advance", {"seconds": 10 * DAY})
    preview = user.ok("preview-plan-change", {"subscription_id": sub_id, "price_id": PRO})
    assert preview["proration_date"] > time.time() + 9 * DAY
    # The customer reads the preview for a while: 20 minutes pass on Stripe's clock.
    standin.post("/_standin/clock/advance", {"seconds": 20 * 60})
    result = _change(user, sub_id, proration_date=preview["proration_date"])
    assert result["amount_due"] == preview["amount_due_now"]
    [invoice] = update_invoices(standin, user.customer())
    assert invoice.amount_paid == preview["amount_due_now"]


def test_an_old_preview_cannot_be_used(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    response = user.call(
        "change-plan",
        {"subscription_id": sub_id, "price_id": PRO, "proration_date": standin.now() - 3600},
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "proration_date"
    assert _price(standin, sub_id) == PRICE


def test_a_preview_is_honoured_for_30_minutes_and_no_longer(user: User, standin: StandIn) -> None:
    # The limit pinned over HTTP: 31 minutes is "too old"; 29 minutes passes that check (and is
    # then refused only because the subscription began a moment ago, before that date).
    sub_id = subscribe(user, standin)["subscription_id"]

    def answer(minutes: int) -> dict[str, Any]:
        body = {"subscription_id": sub_id, "price_id": PRO}
        response = user.call("change-plan", body | {"proration_date": standin.now() - 60 * minutes})
        assert response.status_code == 400, response.text
        error: dict[str, Any] = response.json()["error"]
        assert error["field"] == "proration_date"
        return error

    assert "too old" in answer(31)["message"]
    assert "too old" not in answer(29)["message"]
    assert "before the current billing period" in answer(29)["message"]
    assert _price(standin, sub_id) == PRICE


def test_a_plan_change_applies_only_once_paid(user: User, standin: StandIn) -> None:
    # The product's rule, read off the request it sends (whatever Stripe then answers):
    # pending_if_incomplete, so a declined or unconfirmed charge leaves the old plan in place.
    sub_id = subscribe(user, standin)["subscription_id"]
    body = {"subscription_id": sub_id, "price_id": PRO}
    _, calls = with_stripe_calls(standin, functools.partial(user.call, "change-plan", body))
    [update] = [c for c in calls if c["method"] == "POST" and c["path"].endswith(sub_id)]
    assert update["params"]["payment_behavior"] == "pending_if_incomplete"
    assert _price(standin, sub_id) == PRO


def test_a_past_due_subscription_cannot_change_plan(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    standin.post(f"/_standin/subscriptions/{sub_id}/status", {"status": "past_due"})
    body = {"subscription_id": sub_id, "price_id": PRO}
    for function in ("preview-plan-change", "change-plan"):
        response, calls = with_stripe_calls(standin, functools.partial(user.call, function, body))
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "subscription_not_active"
        assert "past_due" in response.json()["error"]["message"]
        assert [c for c in calls if c["method"] == "POST"] == []
        assert [c for c in calls if c["path"].startswith("/v1/invoices/create_preview")] == []
    assert _price(standin, sub_id) == PRICE


def test_a_proration_date_in_the_future_is_refused(user: User, standin: StandIn) -> None:
    """Issue 15, point 5: Stripe would prorate as of a future date within the period (an
    upgrade made almost free near its end); change-plan refuses it before anything is charged."""
    sub_id = subscribe(user, standin)["subscription_id"]
    moment = standin.now() + 20 * DAY
    response = user.call(
        "change-plan", {"subscription_id": sub_id, "price_id": PRO, "proration_date": moment}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "proration_date"
    assert _price(standin, sub_id) == PRICE
    assert update_invoices(standin, user.customer()) == []


def test_a_double_submit_makes_one_change_and_one_charge(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    body = {"subscription_id": sub_id, "price_id": PRO}
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda _: user.call("change-plan", body), range(2)))
    assert sorted(r.status_code for r in responses)[0] == 200, [r.text for r in responses]
    assert all(r.status_code == 200 or r.json()["error"]["code"] == "same_price" for r in responses)
    [invoice] = update_invoices(standin, user.customer())
    assert invoice.status == "paid"


def test_a_double_submit_while_the_card_fails_makes_one_pending_charge(
    user: User, standin: StandIn
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    use_card(user, standin, "pm_card_chargeCustomerFail")
    body = {"subscription_id": sub_id, "price_id": PRO}
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda _: user.call("change-plan", body), range(2)))
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert {r.json()["invoice_id"] for r in responses} == {
        i.id for i in update_invoices(standin, user.customer())
    }
    assert len(update_invoices(standin, user.customer())) == 1


def test_changing_back_and_forth_makes_each_change(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    for price in (PRO, PRICE, PRO):
        assert _change(user, sub_id, price)["status"] == "changed"
        assert _price(standin, sub_id) == price
    assert len(update_invoices(standin, user.customer())) == 3


def test_the_current_price_is_409_and_unoffered_prices_400(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    for function in ("preview-plan-change", "change-plan"):
        same = user.call(function, {"subscription_id": sub_id, "price_id": PRICE})
        assert same.status_code == 409
        assert same.json()["error"]["code"] == "same_price"
        for price in ("price_legacy_monthly", "price_doesnotexist"):
            response = user.call(function, {"subscription_id": sub_id, "price_id": price})
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "price_not_offered"
            assert response.json()["error"]["field"] == "price_id"
    assert update_invoices(standin, user.customer()) == []


def test_an_ended_or_unpaid_subscription_cannot_change_plan(user: User, standin: StandIn) -> None:
    user.customer()
    unpaid = user.ok("create-subscription", {"price_id": PRICE})["subscription_id"]
    response = user.call("change-plan", {"subscription_id": unpaid, "price_id": PRO})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "subscription_not_active"
    standin.sdk.v1.subscriptions.cancel(unpaid)
    response = user.call("preview-plan-change", {"subscription_id": unpaid, "price_id": PRO})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "subscription_ended"


def test_other_users_subscriptions_are_404(user: User, other_user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    other_user.customer()
    for function in ("preview-plan-change", "change-plan"):
        body = {"subscription_id": sub_id, "price_id": PRO}
        response, calls = with_stripe_calls(
            standin, functools.partial(other_user.call, function, body)
        )
        assert response.status_code == 404
        missing = other_user.call(function, {**body, "subscription_id": "sub_doesnotexist"})
        assert response.json() == missing.json()
        assert all(c["method"] == "GET" for c in calls), calls
    assert _price(standin, sub_id) == PRICE
