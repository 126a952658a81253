"""create-, handle- and retrieve-subscription over HTTP, as a frontend and as an attacker."""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from tests.support.billing_flows import (
    OTHER_PRICE,
    PRICE,
    failed_first_payment,
    intent_id,
    saved_card,
    subscribe,
    with_stripe_calls,
)
from tests.support.stack_fixtures import StandIn, User

pytestmark = pytest.mark.integration


def test_create_subscription_then_pay_makes_it_active(user: User, standin: StandIn) -> None:
    user.customer()
    created, calls = with_stripe_calls(
        standin, lambda: user.ok("create-subscription", {"price_id": PRICE})
    )
    assert created["status"] == "incomplete"
    assert created["created"] is True
    assert created["client_secret_type"] == "payment"
    assert [(c["method"], c["path"]) for c in calls] == [
        # Open pages first (ended in favour of this checkout), then subscriptions: a page
        # paid between the two reads is seen either way (_one_subscription.payable_checkouts).
        ("GET", "/v1/checkout/sessions"),
        ("GET", "/v1/subscriptions"),
        ("POST", "/v1/subscriptions"),
    ]
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    view = user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    assert view["status"] == "active"
    assert view["price"]["id"] == PRICE
    assert view["price"]["product_name"] == "Basic"
    assert view["current_period_end"] > time.time()
    assert view["latest_invoice"]["status"] == "paid"
    assert view["default_payment_method"]["last4"] == "4242"
    assert view["cancel_at_period_end"] is False


def test_prices_outside_the_allowlist_are_400(user: User) -> None:
    user.customer()
    for price in ("price_legacy_monthly", "price_doesnotexist"):
        response = user.call("create-subscription", {"price_id": price})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "price_id"
    response = user.call("create-subscription", {"price_id": "prod_basic"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "price_id"


def test_subscribing_before_creating_a_customer_is_409(user: User) -> None:
    response = user.call("create-subscription", {"price_id": PRICE})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "customer_required"


def test_double_submit_creates_one_subscription(user: User, standin: StandIn) -> None:
    customer = user.customer()
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(lambda _: user.call("create-subscription", {"price_id": PRICE}), range(2))
        )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert len({r.json()["subscription_id"] for r in responses}) == 1
    later = user.ok("create-subscription", {"price_id": PRICE})
    assert later["subscription_id"] == responses[0].json()["subscription_id"]
    assert later["created"] is False
    assert later["client_secret"] == responses[0].json()["client_secret"]
    subs = standin.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    assert len(subs.data) == 1


def test_a_live_subscription_blocks_a_second_one(user: User, standin: StandIn) -> None:
    subscribe(user, standin)
    response = user.call("create-subscription", {"price_id": OTHER_PRICE})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_subscribed"


def test_stripe_unavailable_on_create_is_503_and_creates_nothing(
    user: User, faults: StandIn
) -> None:
    customer = user.customer()
    faults.fault(method="POST", path_prefix="/v1/subscriptions", kind="error", status=503)
    response = user.call("create-subscription", {"price_id": PRICE})
    assert response.status_code == 503
    faults.clear_faults()
    subs = faults.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    assert subs.data == []


def test_cancel_at_period_end_and_resume(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    canceled = user.ok(
        "handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": True}
    )
    assert canceled["cancel_at_period_end"] is True
    assert canceled["status"] == "active"
    again = user.ok(
        "handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": True}
    )
    assert again["cancel_at_period_end"] is True
    resumed = user.ok(
        "handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": False}
    )
    assert resumed["cancel_at_period_end"] is False
    assert standin.sdk.v1.subscriptions.retrieve(sub_id).cancel_at_period_end is False


def test_resuming_an_ended_subscription_is_409(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    standin.sdk.v1.subscriptions.cancel(sub_id)
    response = user.call(
        "handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": False}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "subscription_ended"


def test_another_users_subscription_is_404_and_untouched(
    user: User, other_user: User, standin: StandIn
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    other_user.customer()
    attempts: list[tuple[str, dict[str, object]]] = [
        ("handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": True}),
        ("retrieve-subscription", {"subscription_id": sub_id}),
    ]
    for function, body in attempts:
        response, calls = with_stripe_calls(
            standin, functools.partial(other_user.call, function, body)
        )
        assert response.status_code == 404
        missing = other_user.call(function, {**body, "subscription_id": "sub_doesnotexist"})
        assert missing.status_code == 404
        assert response.json() == missing.json()
        assert all(c["method"] == "GET" for c in calls), calls
    assert standin.sdk.v1.subscriptions.retrieve(sub_id).cancel_at_period_end is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subscription_id": "sub_1"}, "cancel_at_period_end"),
        ({"subscription_id": "sub_1", "cancel_at_period_end": "yes"}, "cancel_at_period_end"),
        ({"subscription_id": "in_1", "cancel_at_period_end": True}, "subscription_id"),
        ({"cancel_at_period_end": True}, "subscription_id"),
    ],
)
def test_handle_subscription_bad_input_names_the_field(
    user: User, body: dict[str, object], field: str
) -> None:
    response = user.call("handle-subscription", body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_stripe_unavailable_on_cancel_is_503_and_changes_nothing(
    user: User, faults: StandIn
) -> None:
    sub_id = subscribe(user, faults)["subscription_id"]
    faults.fault(method="POST", path_prefix=f"/v1/subscriptions/{sub_id}", kind="error", status=500)
    response = user.call(
        "handle-subscription", {"subscription_id": sub_id, "cancel_at_period_end": True}
    )
    assert response.status_code == 503
    faults.clear_faults()
    assert faults.sdk.v1.subscriptions.retrieve(sub_id).cancel_at_period_end is False


def test_retrieve_subscription_unavailable_is_503(user: User, faults: StandIn) -> None:
    sub_id = subscribe(user, faults)["subscription_id"]
    faults.fault(method="GET", path_prefix="/v1/subscriptions", kind="disconnect")
    response = user.call("retrieve-subscription", {"subscription_id": sub_id})
    assert response.status_code == 503


def test_declined_first_payment_leaves_the_subscription_incomplete(
    user: User, standin: StandIn
) -> None:
    view = failed_first_payment(user, standin)["view"]
    assert view["status"] == "incomplete"
    assert view["latest_invoice"]["status"] == "open"


def test_first_payment_needing_3d_secure_completes_after_authentication(
    user: User, standin: StandIn
) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE})
    pi = standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]),
        params={"payment_method": "pm_card_authenticationRequired"},
    )
    assert pi.status == "requires_action"
    pending = user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    assert pending["status"] == "incomplete"
    standin.post(f"/_standin/payment_intents/{pi.id}/authenticate", {"outcome": "succeed"})
    done = user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    assert done["status"] == "active"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "subscription_id"),
        ({"subscription_id": "cus_1"}, "subscription_id"),
        ({"subscription_id": "sub_1", "expand": ["customer"]}, "expand"),
    ],
)
def test_retrieve_subscription_bad_input_names_the_field(
    user: User, body: dict[str, object], field: str
) -> None:
    response = user.call("retrieve-subscription", body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_switching_price_before_paying_leaves_only_the_new_checkout_payable(
    user: User, standin: StandIn
) -> None:
    customer = user.customer()
    pro = user.ok("create-subscription", {"price_id": OTHER_PRICE})
    basic = user.ok("create-subscription", {"price_id": PRICE})
    assert basic["created"] is True
    assert basic["subscription_id"] != pro["subscription_id"]
    old = standin.sdk.v1.subscriptions.retrieve(pro["subscription_id"])
    assert old.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        standin.sdk.v1.payment_intents.confirm(
            intent_id(pro["client_secret"]), params={"payment_method": "pm_card_visa"}
        )
    old_invoice = standin.sdk.v1.invoices.retrieve(str(old.latest_invoice))
    assert old_invoice.status == "void"
    card = saved_card(user, standin, "pm_card_visa")
    response = user.call("retry-invoice", {"invoice_id": old_invoice.id, "payment_method_id": card})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_payable"
    live = standin.sdk.v1.subscriptions.list(params={"customer": customer})
    assert [s.id for s in live.data] == [basic["subscription_id"]]


def test_an_open_invoice_of_an_ended_subscription_cannot_be_paid(
    user: User, standin: StandIn
) -> None:
    failed = failed_first_payment(user, standin)
    card = saved_card(user, standin, "pm_card_visa")
    standin.sdk.v1.subscriptions.cancel(failed["subscription_id"])
    invoice = standin.sdk.v1.invoices.retrieve(failed["invoice_id"])
    response = user.call(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": card}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_payable"
    assert standin.sdk.v1.invoices.retrieve(failed["invoice_id"]).status == invoice.status


def test_cancelling_an_unpaid_subscription_is_409_not_started(user: User, standin: StandIn) -> None:
    user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE})
    response = user.call(
        "handle-subscription",
        {"subscription_id": created["subscription_id"], "cancel_at_period_end": True},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "subscription_not_started"


def test_a_price_not_sold_has_its_own_code(user: User) -> None:
    user.customer()
    response = user.call("create-subscription", {"price_id": "price_legacy_monthly"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "price_not_offered"


def test_two_tabs_asking_for_different_prices_at_once_leave_one_payable_checkout(
    user: User, standin: StandIn
) -> None:
    customer = user.customer()
    prices = [PRICE, OTHER_PRICE]
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(lambda price: user.call("create-subscription", {"price_id": price}), prices)
        )
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    assert any(r.status_code == 200 for r in responses)
    subs = standin.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    payable = [s for s in subs.data if s.status == "incomplete"]
    assert len(payable) == 1
    for other in subs.data:
        if other.status != "incomplete":
            assert other.status == "canceled"
            assert standin.sdk.v1.invoices.retrieve(str(other.latest_invoice)).status == "void"


def test_a_double_click_while_switching_price_answers_both_with_the_new_checkout(
    user: User, standin: StandIn
) -> None:
    customer = user.customer()
    first = user.ok("create-subscription", {"price_id": OTHER_PRICE})
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(lambda _: user.call("create-subscription", {"price_id": PRICE}), range(2))
        )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert len({r.json()["subscription_id"] for r in responses}) == 1
    assert standin.sdk.v1.subscriptions.retrieve(first["subscription_id"]).status == "canceled"
    subs = standin.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    assert sorted(s.status for s in subs.data) == ["canceled", "incomplete"]


def test_a_customer_resubscribing_on_credit_gets_the_setup_secret(
    user: User, standin: StandIn
) -> None:
    """Issue 15, point 10: the credit a downgrade left pays the new first invoice, so nothing is
    due at once; Stripe then hands a SetupIntent (``pending_setup_intent``), and
    create-subscription answers its secret as "setup" so the card for later invoices is saved."""
    user.customer()
    created = user.ok("create-subscription", {"price_id": "price_pro_monthly"})
    standin.sdk.v1.payment_intents.confirm(
        intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
    )
    sub_id = created["subscription_id"]
    user.ok("change-plan", {"subscription_id": sub_id, "price_id": "price_basic_monthly"})
    credit = -(standin.sdk.v1.customers.retrieve(user.customer()).balance or 0)
    assert credit > 999  # most of a month of Pro less Basic
    standin.sdk.v1.subscriptions.cancel(sub_id)  # ended, e.g. in the billing portal
    again = user.ok("create-subscription", {"price_id": "price_basic_monthly"})
    assert (again["status"], again["amount_due"]) == ("active", 0)
    assert again["client_secret_type"] == "setup"
    assert again["client_secret"].startswith("seti_")
    assert standin.sdk.v1.customers.retrieve(user.customer()).balance == -(credit - 999)
    setup = standin.sdk.v1.setup_intents.confirm(
        again["client_secret"].split("_secret_")[0], params={"payment_method": "pm_card_visa"}
    )
    assert setup.status == "succeeded"
