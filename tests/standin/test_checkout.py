"""Checkout Sessions (created, completed by a simulated customer, expired) and portal sessions."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe
from stripe.params.checkout import SessionCreateParams

from tests.standin.conftest import StandinServer, wait_for

PRO = "price_pro_monthly"


def _session(client: stripe.StripeClient, customer: str, **extra: Any) -> stripe.checkout.Session:
    params: SessionCreateParams = {
        "mode": "subscription",
        "customer": customer,
        "line_items": [{"price": PRO, "quantity": 1}],
        "success_url": "http://localhost:3000/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://localhost:3000/cancel",
        "subscription_data": {"metadata": {"firebase_uid": "user-1"}},
    }
    params.update(extra)  # type: ignore[typeddict-item]
    return client.v1.checkout.sessions.create(params)


def _complete(server: StandinServer, session_id: str, **body: Any) -> requests.Response:
    return requests.post(
        f"{server.url}/_standin/checkout/sessions/{session_id}/complete", json=body, timeout=10
    )


def test_a_completed_session_creates_a_paid_subscription_for_that_customer(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    customer = client.v1.customers.create({"email": email})
    session = _session(client, customer.id)
    assert (session.status, session.payment_status, session.mode) == (
        "open",
        "unpaid",
        "subscription",
    )
    assert str(session.url).startswith(standin_server.url)
    assert session.amount_total == 2900
    assert session.subscription is None
    assert requests.get(str(session.url), timeout=10).status_code == 200

    completed = _complete(standin_server, session.id, card="pm_card_visa")
    assert completed.status_code == 200, completed.text
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert (done.status, done.payment_status) == ("complete", "paid")
    sub = done.subscription
    assert isinstance(sub, stripe.Subscription)
    assert (sub.customer, sub.status, sub.items.data[0].price.id) == (customer.id, "active", PRO)
    assert sub.metadata.to_dict() == {"firebase_uid": "user-1"}
    assert client.v1.invoices.retrieve(str(done.invoice)).status == "paid"
    assert len(client.v1.customers.list({"email": email}).data) == 1
    events = [e.type for e in reversed(client.v1.events.list({"limit": 100}).data)]
    assert "customer.subscription.created" in events
    assert events.index("checkout.session.completed") > events.index(
        "customer.subscription.created"
    )
    # Completing twice is refused: one session, one subscription.
    assert _complete(standin_server, session.id).status_code == 400


def test_the_page_names_the_business_and_the_usage_price_before_paying(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """The hosted page a person pays on: the account's business name (not the customer's id),
    the plan, and what usage beyond the quota costs (the plan's metered price, a line item)."""
    customer = client.v1.customers.create({"email": email})
    session = _session(
        client,
        customer.id,
        line_items=[{"price": PRO, "quantity": 1}, {"price": "price_pro_api_calls_monthly"}],
    )
    page = requests.get(str(session.url), timeout=10).text
    assert customer.id not in page
    assert '<p data-testid="business"><strong>Acme Cloud</strong></p>' in page
    assert "<h1>Subscribe to Pro</h1>" in page
    assert (
        '<span data-testid="usage">Usage: 10,000 API calls included per month, then 0.01 USD '
        "per API call over the quota, billed at the end of each month</span>"
    ) in page
    assert session.amount_total == 2900, "usage is billed after the period, not now"


def test_a_declined_card_leaves_the_session_open_for_another_card(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    customer = client.v1.customers.create({"email": email})
    session = _session(client, customer.id)
    declined = _complete(standin_server, session.id, card="pm_card_chargeDeclined")
    assert declined.status_code == 402
    assert declined.json()["error"]["code"] == "card_declined"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []
    needs_3ds = _complete(standin_server, session.id, card="pm_card_authenticationRequired")
    assert needs_3ds.status_code == 402
    authenticated = _complete(
        standin_server, session.id, card="pm_card_authenticationRequired", authenticate=True
    )
    assert authenticated.status_code == 200, authenticated.text
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_a_promotion_code_discounts_the_session_and_the_subscription(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    customer = client.v1.customers.create({"email": email})
    session = _session(client, customer.id, discounts=[{"promotion_code": "promo_welcome20"}])
    assert (session.amount_subtotal, session.amount_total) == (2900, 2320)
    assert session.total_details is not None
    assert session.total_details.amount_discount == 580
    assert _complete(standin_server, session.id).status_code == 200
    invoice = client.v1.invoices.retrieve(
        str(client.v1.checkout.sessions.retrieve(session.id).invoice)
    )
    assert invoice.amount_paid == 2320


def test_expiring_an_open_session_and_listing_by_status(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    customer = client.v1.customers.create({"email": email})
    first, second = _session(client, customer.id), _session(client, customer.id)
    open_ids = {
        s.id for s in client.v1.checkout.sessions.list({"customer": customer.id, "status": "open"})
    }
    assert open_ids == {first.id, second.id}
    expired = client.v1.checkout.sessions.expire(first.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert _complete(standin_server, first.id).status_code == 400
    wait_for(lambda: client.v1.events.list({"type": "checkout.session.expired"}).data)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"customer_email": "a@example.com"}, "customer_email"),
        ({"mode": "payment"}, "mode"),
        ({"subscription_data": {"trial_period_days": 7}}, "subscription_data[trial_period_days]"),
    ],
)
def test_sessions_refuse_what_is_not_implemented(
    client: stripe.StripeClient, email: str, extra: dict[str, Any], param: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _session(client, customer.id, **extra)
    assert caught.value.param == param


def test_discounts_and_allow_promotion_codes_exclude_each_other(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    with pytest.raises(stripe.InvalidRequestError):
        _session(
            client,
            customer.id,
            discounts=[{"promotion_code": "promo_welcome20"}],
            allow_promotion_codes=True,
        )


def test_a_portal_session_for_a_customer(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    portal = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "configuration": "bpc_catalog",
            "return_url": "http://localhost:3000/account",
        }
    )
    assert portal.id.startswith("bps_")
    assert (portal.customer, portal.return_url) == (customer.id, "http://localhost:3000/account")
    assert portal.url.startswith("http")
    assert requests.get(portal.url, timeout=10).status_code == 200
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create(
            {"customer": customer.id, "flow_data": {"type": "payment_method_update"}}
        )
    assert caught.value.param == "flow_data"


def test_an_open_session_expires_by_time_with_its_event(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """Stripe expires an unfinished session at ``expires_at`` (24 hours by default) and sends
    checkout.session.expired then, not only when the API expires it."""
    customer = client.v1.customers.create({"email": email})
    session = _session(client, customer.id)
    now = standin_server.control("GET", "/_standin/clock")["now"]
    advanced = standin_server.advance(session.expires_at - now + 1)
    assert {"action": "expire_checkout_session", "checkout_session": session.id} in advanced[
        "actions"
    ]
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    expired = client.v1.events.list({"type": "checkout.session.expired", "limit": 100}).data
    assert [e.data.object["id"] for e in expired].count(session.id) == 1
