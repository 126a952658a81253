"""create-checkout-session and create-portal-session over HTTP, with Checkout completed the way
a customer's browser would (devstack.stripejs)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from google.cloud import firestore

from devstack import stripejs
from devstack.stack import Stack
from tests.support.billing_flows import PRICE, intent_id, subscribe
from tests.support.stack import wait_for
from tests.support.stack_fixtures import STATE_DIR, StandIn, User
from tests.support.webhooks import entitlement, wait_for_entitlement

pytestmark = pytest.mark.integration

PRO = "price_pro_monthly"


def _pay(url: str, card: str = "pm_card_visa", *extra: str) -> None:
    stripejs.main(
        ["--stack", str(STATE_DIR / "stack.json"), "complete-checkout", url, "--card", card, *extra]
    )


def test_checkout_end_to_end_subscribes_the_callers_own_customer(
    user: User,
    standin: StandIn,
    db: firestore.Client,
    capsys: pytest.CaptureFixture[str],
    running_stack: Stack,
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
    # The configured return URLs (the stack points them at the example app it serves).
    env = running_stack.function_environ
    assert session.success_url == env["CHECKOUT_SUCCESS_URL"]
    assert "{CHECKOUT_SESSION_ID}" in session.success_url
    assert session.cancel_url == env["CHECKOUT_CANCEL_URL"]
    _pay(page["url"])
    assert "complete" in capsys.readouterr().out
    [sub] = standin.sdk.v1.subscriptions.list(params={"customer": customer}).data
    assert (sub.status, sub.items.data[0].price.id) == ("active", PRO)
    # The plan's metered price came with it (no quantity: its usage is billed at period end).
    [metered] = [item for item in sub.items.data if item.price.id != PRO]
    assert metered.price.id == "price_pro_api_calls_monthly"
    assert "quantity" not in metered
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


def test_the_portal_opens_for_the_callers_own_customer(
    user: User, standin: StandIn, running_stack: Stack
) -> None:
    customer = user.customer()
    page = user.ok("create-portal-session", {})
    assert page["url"].startswith(standin.control)
    portal_calls = standin.requests(path_prefix="/v1/billing_portal/sessions")
    env = running_stack.function_environ
    assert portal_calls[-1]["params"] == {
        "customer": customer,
        "return_url": env["PORTAL_RETURN_URL"],
        # The configuration made from the catalog: plan switches among the offered prices only.
        "configuration": env["PORTAL_CONFIGURATION_ID"],
    }
    assert env["PORTAL_CONFIGURATION_ID"] == "bpc_catalog"


def test_the_portal_without_saved_settings_names_the_missing_setup(
    user: User, standin: StandIn
) -> None:
    """Stripe refuses portal sessions until a portal configuration is saved; the caller gets
    a code naming that, not a generic provider error, and nothing of Stripe's message."""
    user.customer()
    forgotten = requests.delete(
        f"{standin.control}/_standin/billing_portal/configurations", timeout=10
    )
    forgotten.raise_for_status()
    try:
        response = user.call("create-portal-session", {})
    finally:
        standin.post("/_standin/billing_portal/configurations")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "portal_not_configured"
    assert "dashboard.stripe.com" not in error["message"]
    assert "bpc_" not in error["message"]
    assert user.ok("create-portal-session", {})["url"].startswith(standin.control)


# --- An open Checkout page and an Elements checkout can never both be paid ----------------


def _pay_elements(standin: StandIn, created: dict[str, Any]) -> bool:
    """Confirms an Elements checkout's first payment as Stripe.js would; False if refused."""
    try:
        standin.sdk.v1.payment_intents.confirm(
            intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
        )
    except stripe.StripeError:
        return False
    return True


def _pay_page(url: str) -> bool:
    try:
        _pay(url)
    except SystemExit:  # the hosted page refused: expired, or paid already
        return False
    return True


def _payable(standin: StandIn, customer: str) -> list[str]:
    """What the customer could still pay: open Checkout pages, and incomplete subscriptions
    whose first invoice is open."""
    pages = standin.sdk.v1.checkout.sessions.list(params={"customer": customer, "status": "open"})
    subs = standin.sdk.v1.subscriptions.list(
        params={"customer": customer, "status": "incomplete", "expand": ["data.latest_invoice"]}
    )
    return [page.id for page in pages.data] + [
        sub.id
        for sub in subs.data
        if isinstance(sub.latest_invoice, stripe.Invoice) and sub.latest_invoice.status == "open"
    ]


def _paid_once(standin: StandIn, customer: str) -> stripe.Subscription:
    subs = standin.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"}).data
    active = [sub for sub in subs if sub.status == "active"]
    assert len(active) == 1, [(sub.id, sub.status) for sub in subs]
    paid = [
        invoice
        for invoice in standin.sdk.v1.invoices.list(params={"customer": customer}).data
        if invoice.status == "paid"
    ]
    assert len(paid) == 1, [(invoice.id, invoice.status) for invoice in paid]
    return active[0]


def test_a_checkout_page_then_an_elements_checkout_can_be_paid_only_once(
    user: User, standin: StandIn
) -> None:
    customer = user.customer()
    page = user.ok("create-checkout-session", {"price_id": PRO})
    created = user.ok("create-subscription", {"price_id": PRICE})
    # The page was ended before the Elements checkout was handed out.
    assert standin.sdk.v1.checkout.sessions.retrieve(page["session_id"]).status == "expired"
    assert _payable(standin, customer) == [created["subscription_id"]]
    assert _pay_page(page["url"]) is False
    assert _pay_elements(standin, created) is True
    assert _paid_once(standin, customer).id == created["subscription_id"]


def test_an_elements_checkout_then_a_checkout_page_can_be_paid_only_once(
    user: User, standin: StandIn
) -> None:
    customer = user.customer()
    created = user.ok("create-subscription", {"price_id": PRICE})
    page = user.ok("create-checkout-session", {"price_id": PRO})
    assert _payable(standin, customer) == [page["session_id"]]
    assert _pay_elements(standin, created) is False
    assert _pay_page(page["url"]) is True
    assert _paid_once(standin, customer).items.data[0].price.id == PRO


def test_paying_the_page_first_makes_the_later_elements_checkout_409(
    user: User, standin: StandIn
) -> None:
    customer = user.customer()
    page = user.ok("create-checkout-session", {"price_id": PRO})
    assert _pay_page(page["url"]) is True
    response = user.call("create-subscription", {"price_id": PRICE})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_subscribed"
    assert _payable(standin, customer) == []
    _paid_once(standin, customer)


def _until_answered(user: User, function: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """Calls as a frontend would: again after Retry-After while another tab holds the
    customer's checkout (409 in_progress); None once the answer is any other refusal."""
    deadline = time.monotonic() + 120
    while True:
        response = user.call(function, body)
        if response.status_code == 200:
            answer: dict[str, Any] = response.json()
            return answer
        code = response.json()["error"]["code"]
        if code not in ("in_progress", "upstream_unavailable"):
            assert response.status_code == 409, response.text
            return None
        assert time.monotonic() < deadline, f"{function} still {code} after 120 s"
        time.sleep(float(response.headers.get("Retry-After", "1")))


def _held(standin: StandIn, rule_id: str) -> int:
    response = requests.get(f"{standin.control}/_standin/faults/{rule_id}", timeout=10)
    response.raise_for_status()
    return int(response.json()["matched"])


def _waiting_for_the_lock(log_path: Path, request_id: str) -> bool:
    for line in log_path.read_text(errors="replace").splitlines():
        if request_id in line and "waiting for the customer's checkout lock" in line:
            entry = json.loads(line)
            return bool(entry.get("request_id") == request_id)
    return False


SECOND_TAB_RACES = [
    (("create-checkout-session", {"price_id": PRO}), "/v1/checkout/sessions",
     ("create-subscription", {"price_id": PRICE})),
    (("create-subscription", {"price_id": PRICE}), "/v1/subscriptions",
     ("create-checkout-session", {"price_id": PRO})),
]  # fmt: skip


@pytest.mark.parametrize(
    ("first", "held_at", "second"),
    SECOND_TAB_RACES,
    ids=["page-then-elements", "elements-then-page"],
)
def test_a_tab_that_starts_while_another_is_inside_its_checkout_leaves_one_payable(
    user: User,
    standin: StandIn,
    running_stack: Stack,
    first: tuple[str, dict[str, Any]],
    held_at: str,
    second: tuple[str, dict[str, Any]],
) -> None:
    # The race made certain rather than hoped for: the first tab is frozen inside its
    # checkout (it has listed what the customer has; the stand-in holds its create) and only
    # then does the second tab start. Unless something makes the second wait for the first,
    # it lists before the first has created anything, ends nothing, and both are payable.
    # The first is let go once the second has answered, or says it waits for the lock.
    customer = user.customer()
    rule = standin.post(
        "/_standin/faults",
        {"kind": "hold", "method": "POST", "path_prefix": held_at, "times": 1,
         "latency_ms": 100_000},
    )  # fmt: skip
    request_id = f"second-tab-{uuid.uuid4().hex}"
    assert running_stack.info is not None
    log_path = running_stack.info.log_file(second[0])
    with ThreadPoolExecutor(2) as pool:
        try:
            first_tab = pool.submit(user.call, *first)
            wait_for(
                lambda: _held(standin, rule["id"]) or None,
                90,
                f"{first[0]} to be held at its create",
            )
            second_tab = pool.submit(user.call, *second, headers={"X-Request-Id": request_id})
            wait_for(
                lambda: second_tab.done() or _waiting_for_the_lock(log_path, request_id) or None,
                90,
                f"{second[0]} to answer or to wait for the first",
            )
        finally:
            standin.post(f"/_standin/faults/{rule['id']}/release")
        answered = first_tab.result(timeout=90)
        assert answered.status_code == 200, answered.text
        answers = [(first[0], answered.json())]
        response = second_tab.result(timeout=90)
    if response.status_code == 200:
        answers.append((second[0], response.json()))
    else:  # it waited longer than it may (a busy machine): a retry, as the frontend makes
        assert response.json()["error"]["code"] == "in_progress", response.text
        answers.append((second[0], _until_answered(user, *second)))
    assert len(_payable(standin, customer)) == 1, answers
    paid = [
        _pay_page(answer["url"]) if function == "create-checkout-session" else
        _pay_elements(standin, answer)
        for function, answer in answers
        if answer is not None
    ]  # fmt: skip
    assert paid.count(True) == 1
    _paid_once(standin, customer)


@pytest.mark.parametrize("round_", range(2))
def test_two_tabs_at_once_leave_one_payable_checkout_and_one_payment(
    user: User, standin: StandIn, round_: int
) -> None:
    # Two tabs, each opening a checkout of another kind and price at the same moment (and a
    # third double-clicking the page): however the requests interleave, afterwards at most
    # one thing can be paid, and paying everything the tabs were given pays once.
    customer = user.customer()
    calls = [
        ("create-checkout-session", {"price_id": PRO}),
        ("create-subscription", {"price_id": PRICE}),
        ("create-checkout-session", {"price_id": PRO}),
    ]
    if round_ % 2:
        calls.reverse()
    start = threading.Barrier(len(calls))

    def tab(call: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
        start.wait()
        return call[0], _until_answered(user, *call)

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(tab, calls))
    assert len(_payable(standin, customer)) == 1, answers
    paid = [
        _pay_page(answer["url"]) if function == "create-checkout-session" else
        _pay_elements(standin, answer)
        for function, answer in answers
        if answer is not None
    ]  # fmt: skip
    assert paid.count(True) >= 1
    _paid_once(standin, customer)
    assert _payable(standin, customer) == []


OLD_CHECKOUT_PAID_RACES = [
    # (the old checkout, the new call, where the new call is frozen while the old is paid)
    ("page", "create-subscription", ("GET", "/v1/checkout/sessions")),
    ("page", "create-subscription", ("POST", "/v1/subscriptions")),
    ("elements", "create-subscription", ("POST", "/v1/subscriptions")),
    ("page", "create-checkout-session", ("GET", "/v1/checkout/sessions")),
]


@pytest.mark.parametrize(
    ("old", "new", "held_at"),
    OLD_CHECKOUT_PAID_RACES,
    ids=["page-paid-while-pages-are-listed", "page-paid-while-creating",
         "elements-paid-while-creating", "page-paid-while-a-new-page-lists"],
)  # fmt: skip
def test_an_old_checkout_paid_while_a_new_one_opens_leaves_nothing_else_payable(
    user: User, standin: StandIn, old: str, new: str, held_at: tuple[str, str]
) -> None:
    # The abandoned-checkout race: the customer pays an old checkout (an open Checkout page, or
    # an Elements checkout's first invoice) at the very moment a new checkout is being opened.
    # The new call is frozen at one of its Stripe calls (a hold), the old one is paid, and the
    # new call goes on. Whatever it answers, two can never both be paid: the customer ends up
    # with the old one paid and nothing else payable.
    customer = user.customer()
    if old == "page":
        first = user.ok("create-checkout-session", {"price_id": PRO})
    else:
        first = user.ok("create-subscription", {"price_id": PRO})
    method, path = held_at
    rule = standin.post(
        "/_standin/faults",
        {"kind": "hold", "method": method, "path_prefix": path, "times": 1,
         "latency_ms": 100_000},
    )  # fmt: skip
    with ThreadPoolExecutor(1) as pool:
        try:
            pending = pool.submit(user.call, new, {"price_id": PRICE})
            wait_for(lambda: _held(standin, rule["id"]) or None, 90, f"{new} to be held")
            if old == "page":
                assert _pay_page(first["url"]) is True
            else:
                assert _pay_elements(standin, first) is True
        finally:
            standin.post(f"/_standin/faults/{rule['id']}/release")
        response = pending.result(timeout=90)
    if response.status_code == 200:
        answer = response.json()
        paid_too = _pay_page(answer["url"]) if "url" in answer else _pay_elements(standin, answer)
        assert paid_too is False, (response.text, _payable(standin, customer))
    else:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "already_subscribed"
    assert _payable(standin, customer) == []
    assert _paid_once(standin, customer).items.data[0].price.id == PRO
