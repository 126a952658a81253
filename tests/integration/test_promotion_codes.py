"""Promotion codes a subscriber types: refused clearly when they do not apply, shown when
they do."""

from __future__ import annotations

import functools

import pytest
import stripe
from google.cloud import firestore

from tests.support.billing_flows import PRICE, intent_id, subscribe, with_stripe_calls
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import wait_for_entitlement

pytestmark = pytest.mark.integration

PRO = "price_pro_monthly"
INVALID = [
    ("NOSUCHCODE", "no such code"),
    ("RETIRED10", "no such code"),  # inactive
    ("SUMMER2020", "expired"),
]


@pytest.mark.parametrize(("code", "words"), [*INVALID, ("PRO5OFF", "does not apply")])
def test_invalid_codes_are_400_naming_the_field_and_subscribe_nobody(
    user: User, standin: StandIn, code: str, words: str
) -> None:
    customer = user.customer()
    response = user.call("create-subscription", {"price_id": PRICE, "promotion_code": code})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("promotion_code_invalid", "promotion_code")
    assert words in error["message"]
    subs = standin.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    assert subs.data == []


@pytest.mark.parametrize(("code", "words"), INVALID)
def test_invalid_codes_are_400_on_a_plan_change(
    user: User, standin: StandIn, code: str, words: str
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    body = {"subscription_id": sub_id, "price_id": PRO, "promotion_code": code}
    for function in ("preview-plan-change", "change-plan"):
        response = user.call(function, body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "promotion_code_invalid"
        assert words in response.json()["error"]["message"]
    assert standin.sdk.v1.subscriptions.retrieve(sub_id).items.data[0].price.id == PRICE


def test_a_code_for_another_plan_is_400_on_a_plan_change(user: User, standin: StandIn) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRO})
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    body = {"subscription_id": created["subscription_id"], "price_id": PRICE}
    response = user.call("preview-plan-change", {**body, "promotion_code": "PRO5OFF"})
    assert response.status_code == 400
    assert "does not apply" in response.json()["error"]["message"]
    assert user.call("preview-plan-change", body).status_code == 200


def test_a_good_code_shows_its_discount_and_is_charged_so(user: User, standin: StandIn) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRO, "promotion_code": "welcome20"})
    assert created["discount"]["promotion_code"] == "WELCOME20"
    assert created["discount"]["percent_off"] == 20
    assert created["amount_due"] == 2320
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    invoice = standin.sdk.v1.invoices.list(params={"customer": user.customer()}).data[0]
    assert (invoice.amount_paid, invoice.subtotal) == (2320, 2900)


def test_a_code_on_a_plan_change_discounts_its_proration_and_the_next_invoice(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    body = {"subscription_id": sub_id, "price_id": PRO, "promotion_code": "PRO5OFF"}
    preview = user.ok("preview-plan-change", body)
    assert preview["discount"]["amount_off"] == 500
    assert preview["next_invoice"] == {
        "date": preview["next_invoice"]["date"],
        "total": 2400,
        "discount_amount": 500,
    }
    result = user.ok("change-plan", body | {"proration_date": preview["proration_date"]})
    assert result["amount_due"] == preview["amount_due_now"]
    # $5 off Pro every month, prorated with the rest of the month (flexible billing mode).
    item = standin.sdk.v1.subscriptions.retrieve(sub_id).items.data[0]
    start, end = item.current_period_start, item.current_period_end
    share = (end - preview["proration_date"]) / (end - start)
    assert preview["charge"] == round((2900 - 500) * share)
    sub = standin.sdk.v1.subscriptions.retrieve(sub_id, params={"expand": ["discounts"]})
    [discount] = sub.discounts
    assert getattr(discount, "promotion_code", None) == "promo_pro5off"
    wait_for_entitlement(db, user.uid, price_id=PRO, active=True)


def test_a_lasting_discount_discounts_the_upgrade_and_the_preview_is_the_charge(
    user: User, standin: StandIn
) -> None:
    """Issue 15, point 4: Stripe's flexible billing mode discounts prorations. A customer with
    10 % off every invoice is charged 10 % less for an upgrade, and exactly the preview."""
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE, "promotion_code": "TEAM10"})
    assert created["amount_due"] == 899
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    sub_id = created["subscription_id"]
    preview = user.ok("preview-plan-change", {"subscription_id": sub_id, "price_id": PRO})
    item = standin.sdk.v1.subscriptions.retrieve(sub_id).items.data[0]
    start, end = item.current_period_start, item.current_period_end
    share = (end - preview["proration_date"]) / (end - start)
    assert preview["charge"] == round((2900 - 290) * share)  # net of the 10 %
    assert preview["credit"] == round(899 * share)  # what was paid, not the list price
    result = user.ok(
        "change-plan",
        {"subscription_id": sub_id, "price_id": PRO, "proration_date": preview["proration_date"]},
    )
    assert result["amount_due"] == preview["amount_due_now"] > 0
    paid = standin.sdk.v1.invoices.retrieve(result["invoice_id"])
    assert (paid.status, paid.amount_paid) == ("paid", preview["amount_due_now"])


def test_a_changed_code_replaces_an_unfinished_checkout(user: User, standin: StandIn) -> None:
    user.customer()
    plain = user.ok("create-subscription", {"price_id": PRO})
    coded = user.ok("create-subscription", {"price_id": PRO, "promotion_code": "WELCOME20"})
    assert coded["subscription_id"] != plain["subscription_id"]
    assert coded["amount_due"] == 2320
    again = user.ok("create-subscription", {"price_id": PRO, "promotion_code": "WELCOME20"})
    assert (again["subscription_id"], again["created"]) == (coded["subscription_id"], False)
    old = standin.sdk.v1.subscriptions.retrieve(plain["subscription_id"])
    assert old.status == "canceled"


def _unfinished_checkout(user: User, standin: StandIn, price: str) -> str:
    """A checkout the customer left unpaid: incomplete, its first invoice open."""
    user.customer()
    sub_id: str = user.ok("create-subscription", {"price_id": price})["subscription_id"]
    assert standin.sdk.v1.subscriptions.retrieve(sub_id).status == "incomplete"
    return sub_id


def _left_as_it_was(standin: StandIn, sub_id: str) -> None:
    sub = standin.sdk.v1.subscriptions.retrieve(sub_id, params={"expand": ["latest_invoice"]})
    assert sub.status == "incomplete"
    assert isinstance(sub.latest_invoice, stripe.Invoice)
    assert sub.latest_invoice.status == "open"


@pytest.mark.parametrize(
    ("code", "price", "words"),
    [
        ("FIRSTTIME", PRO, "first purchase"),  # the open invoice is a prior transaction
        ("BIGPLAN", PRICE, "minimum amount"),  # Basic is below the code's minimum
    ],
)
def test_a_restricted_code_is_refused_before_the_unfinished_checkout_is_touched(
    user: User, standin: StandIn, code: str, price: str, words: str
) -> None:
    """Issue 15, point 2: Stripe enforces first-time and minimum-amount restrictions only when
    the code is redeemed; create-subscription decides them first, so nothing is abandoned."""
    unfinished = _unfinished_checkout(user, standin, PRO if price == PRICE else PRICE)
    response = user.call("create-subscription", {"price_id": price, "promotion_code": code})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("promotion_code_invalid", "promotion_code")
    assert words in error["message"]
    _left_as_it_was(standin, unfinished)
    subs = standin.sdk.v1.subscriptions.list(params={"customer": user.customer(), "status": "all"})
    assert [s.id for s in subs.data] == [unfinished]


def test_restricted_codes_work_when_their_terms_are_met(user: User, standin: StandIn) -> None:
    user.customer()
    first = user.ok("create-subscription", {"price_id": PRO, "promotion_code": "FIRSTTIME"})
    assert first["amount_due"] == 2320
    big = user.ok("create-subscription", {"price_id": PRO, "promotion_code": "BIGPLAN"})
    assert (big["created"], big["amount_due"]) == (True, 2320)
    # The new checkout exists before the one it replaces is ended.
    assert standin.sdk.v1.subscriptions.retrieve(first["subscription_id"]).status == "canceled"


def test_a_code_stripe_refuses_after_the_check_leaves_everything_as_it_was(
    user: User, standin: StandIn, faults: StandIn
) -> None:
    """Stripe may decide a restriction otherwise than the check does: its refusal is still a
    clear promotion_code_invalid, and the unfinished checkout is still there."""
    unfinished = _unfinished_checkout(user, standin, PRICE)
    faults.fault(
        method="POST",
        path_prefix="/v1/subscriptions",
        kind="error",
        status=400,
        param="discounts[0][promotion_code]",
        times=1,
    )
    response = user.call("create-subscription", {"price_id": PRO, "promotion_code": "WELCOME20"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "promotion_code_invalid"
    _left_as_it_was(standin, unfinished)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("VIPONLY", "not available to you"),  # issued to another customer
        ("USEDUP", "used up"),  # times_redeemed == max_redemptions
        ("SUMMER2020", "expired"),
    ],
)
@pytest.mark.parametrize("function", ["create-subscription", "create-checkout-session"])
def test_the_app_refuses_a_code_the_caller_may_not_redeem_before_stripe_sees_it(
    user: User, standin: StandIn, code: str, words: str, function: str
) -> None:
    # Stripe would refuse these at redemption too; the app's own check is what answers,
    # naming the field and the reason, and nothing is written to Stripe.
    user.customer()
    body = {"price_id": PRICE, "promotion_code": code}
    response, calls = with_stripe_calls(standin, functools.partial(user.call, function, body))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("promotion_code_invalid", "promotion_code")
    assert words in error["message"]
    assert [c["path"] for c in calls if c["method"] == "POST"] == []
