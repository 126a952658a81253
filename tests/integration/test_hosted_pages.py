"""create-checkout-session and create-portal-session over HTTP, with Checkout completed the way
a customer's browser would (devstack.stripejs)."""

from __future__ import annotations

import pytest
from google.cloud import firestore

from devstack import stripejs
from tests.support.billing_flows import PRICE, subscribe
from tests.support.stack_fixtures import STATE_DIR, StandIn, User
from tests.support.webhooks import entitlement, wait_for_entitlement

pytestmark = pytest.mark.integration

PRO = "price_pro_monthly"


def _pay(url: str, card: str = "pm_card_visa", *extra: str) -> None:
    stripejs.main(
        ["--stack", str(STATE_DIR / "stack.json"), "complete-checkout", url, "--card", card, *extra]
    )


def test_checkout_end_to_end_subscribes_the_callers_own_customer(
    user: User, standin: StandIn, db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = user.customer()
    page = user.ok("create-checkout-session", {"price_id": PRO})
    assert page["url"].startswith(standin.control)
    assert (page["amount_total"], page["discount"]) == (2900, None)
    session = standin.sdk.v1.checkout.sessions.retrieve(page["session_id"])
    assert (session.customer, session.mode, session.allow_promotion_codes) == (
        customer,
        "subscription",
        True,
    )
    assert session.success_url == (
        "http://localhost:3000/billing/done?session_id={CHECKOUT_SESSION_ID}"
    )
    assert session.cancel_url == "http://localhost:3000/billing"
    _pay(page["url"])
    assert "complete" in capsys.readouterr().out
    [sub] = standin.sdk.v1.subscriptions.list(params={"customer": customer}).data
    assert (sub.status, sub.items.data[0].price.id) == ("active", PRO)
    assert sub.metadata.to_dict() == {"firebase_uid": user.uid}
    wait_for_entitlement(db, user.uid, subscription_id=sub.id, price_id=PRO, active=True)
    assert len(standin.sdk.v1.customers.list(params={"email": user.email}).data) == 1
    # One subscription per customer, whichever way it was bought.
    for function, body in (
        ("create-checkout-session", {"price_id": PRICE}),
        ("create-subscription", {"price_id": PRICE}),
    ):
        response = user.call(function, body)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "already_subscribed"
    view = user.ok("retrieve-subscription", {"subscription_id": sub.id})
    assert view["latest_invoice"]["status"] == "paid"


def test_an_elements_subscriber_cannot_open_checkout(user: User, standin: StandIn) -> None:
    subscribe(user, standin)
    response = user.call("create-checkout-session", {"price_id": PRO})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_subscribed"
    assert standin.sdk.v1.checkout.sessions.list(params={"customer": user.customer()}).data == []


def test_one_open_page_per_choice_and_only_the_newest_stays_open(
    user: User, standin: StandIn
) -> None:
    customer = user.customer()
    first = user.ok("create-checkout-session", {"price_id": PRICE})
    again = user.ok("create-checkout-session", {"price_id": PRICE})
    assert again["session_id"] == first["session_id"]
    other = user.ok("create-checkout-session", {"price_id": PRO})
    assert other["session_id"] != first["session_id"]
    assert standin.sdk.v1.checkout.sessions.retrieve(first["session_id"]).status == "expired"
    with pytest.raises(SystemExit, match=r"refused: .*expired"):
        _pay(first["url"])
    _pay(other["url"])
    assert len(standin.sdk.v1.subscriptions.list(params={"customer": customer}).data) == 1


def test_opening_checkout_ends_an_unfinished_elements_checkout(
    user: User, standin: StandIn
) -> None:
    user.customer()
    unfinished = user.ok("create-subscription", {"price_id": PRICE})
    user.ok("create-checkout-session", {"price_id": PRO})
    sub = standin.sdk.v1.subscriptions.retrieve(unfinished["subscription_id"])
    assert sub.status == "canceled"
    assert standin.sdk.v1.invoices.retrieve(str(sub.latest_invoice)).status == "void"


def test_a_code_discounts_the_checkout_and_a_bad_one_is_400(user: User, standin: StandIn) -> None:
    user.customer()
    bad = user.call("create-checkout-session", {"price_id": PRO, "promotion_code": "SUMMER2020"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "promotion_code_invalid"
    page = user.ok("create-checkout-session", {"price_id": PRO, "promotion_code": "WELCOME20"})
    assert (page["amount_total"], page["discount"]["percent_off"]) == (2320, 20)
    _pay(page["url"], "pm_card_authenticationRequired", "--authenticate")
    invoice = standin.sdk.v1.invoices.list(params={"customer": user.customer()}).data[0]
    assert (invoice.status, invoice.amount_paid) == ("paid", 2320)


def test_a_declined_card_on_the_page_subscribes_nobody(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    customer = user.customer()
    page = user.ok("create-checkout-session", {"price_id": PRO})
    with pytest.raises(SystemExit, match="declined: card_declined"):
        _pay(page["url"], "pm_card_chargeDeclined")
    assert standin.sdk.v1.subscriptions.list(params={"customer": customer}).data == []
    assert standin.sdk.v1.checkout.sessions.retrieve(page["session_id"]).status == "open"
    doc = entitlement(db, user.uid)
    assert doc is None or doc["active"] is False


def test_hosted_pages_need_a_customer_first(user: User) -> None:
    for function, body in (
        ("create-checkout-session", {"price_id": PRO}),
        ("create-portal-session", {}),
    ):
        response = user.call(function, body)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "customer_required"


def test_checkout_only_sells_offered_prices(user: User, standin: StandIn) -> None:
    user.customer()
    response = user.call("create-checkout-session", {"price_id": "price_legacy_monthly"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "price_not_offered"
    unknown = user.call("create-checkout-session", {"price_id": PRO, "success_url": "https://x"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["field"] == "success_url"


def test_the_portal_opens_for_the_callers_own_customer(user: User, standin: StandIn) -> None:
    customer = user.customer()
    page = user.ok("create-portal-session", {})
    assert page["url"].startswith(standin.control)
    portal_calls = standin.requests(path_prefix="/v1/billing_portal/sessions")
    assert portal_calls[-1]["params"] == {
        "customer": customer,
        "return_url": "http://localhost:3000/account",
    }
