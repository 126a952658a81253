"""The portal page does what the session's saved configuration allows: cancel at period end and
renew, switch among its prices, save a card, with the webhooks Stripe sends for each change;
and refuses the rest by name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe
from stripe.params import SubscriptionCreateParams

from devstack.stripe_standin.seeding import PORTAL_CONFIGURATION
from tests.standin.conftest import StandinServer, active_subscription, save_card

BASIC, PRO, PRO_YEARLY = "price_basic_monthly", "price_pro_monthly", "price_pro_yearly"


def _active(client: stripe.StripeClient, email: str, price: str = BASIC) -> stripe.Subscription:
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    assert customer.invoice_settings is not None
    params: SubscriptionCreateParams = {
        "customer": customer.id,
        "items": [{"price": price}],
        # Checkout sets the subscription's own default, as here.
        "default_payment_method": str(customer.invoice_settings.default_payment_method),
        "payment_behavior": "allow_incomplete",
    }
    sub = client.v1.subscriptions.create(params)
    assert sub.status == "active"
    return sub


def _portal(client: stripe.StripeClient, customer: str) -> str:
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer,
            "configuration": PORTAL_CONFIGURATION,
            "return_url": "http://localhost:3000/account",
        }
    )
    return session.url


def _post(url: str, **form: str) -> requests.Response:
    return requests.post(url, data=form, timeout=10, allow_redirects=True)


def _events_since(client: stripe.StripeClient, marker: str | None, kind: str) -> list[Any]:
    """Events of ``kind`` after ``marker``, oldest first."""
    params: dict[str, Any] = {"limit": 100}
    if marker:
        params["ending_before"] = marker
    events = client.v1.events.list(params).data  # type: ignore[arg-type]
    return [event for event in reversed(events) if event.type == kind]


def _latest_event(client: stripe.StripeClient) -> str | None:
    data = client.v1.events.list({"limit": 1}).data
    return data[0].id if data else None


@pytest.fixture
def configuration(standin_server: StandinServer) -> Iterator[dict[str, Any]]:
    """The saved configuration, to change in a test; saved afresh afterwards."""
    state = standin_server.standin.state
    with state.lock:
        saved: dict[str, Any] = state.data.portal_configurations[PORTAL_CONFIGURATION]
    yield saved
    standin_server.control("POST", "/_standin/billing_portal/configurations")


# --- the page ---------------------------------------------------------------------------------


def test_cancel_at_period_end_and_renew_send_subscription_updated(
    client: stripe.StripeClient, email: str
) -> None:
    sub = _active(client, email)
    url = _portal(client, str(sub.customer))
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert "Cancel plan" in page.text
    assert "Basic" in page.text
    marker = _latest_event(client)

    canceled = _post(f"{url}/subscriptions/{sub.id}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert "will be canceled" in canceled.text
    assert "Renew plan" in canceled.text
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (after.cancel_at_period_end, after.status) == (True, "active")
    assert after.cancel_at == sub.items.data[0].current_period_end
    updated = _events_since(client, marker, "customer.subscription.updated")
    assert [e.data.object["cancel_at_period_end"] for e in updated] == [True]
    assert updated[0].data.previous_attributes["cancel_at_period_end"] is False

    renewed = _post(f"{url}/subscriptions/{sub.id}/renew")
    assert renewed.status_code == 200
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is False
    assert len(_events_since(client, marker, "customer.subscription.updated")) == 2


def test_the_card_shown_is_the_one_the_subscription_is_charged_with(
    client: stripe.StripeClient, email: str
) -> None:
    """As after Checkout: the card is the subscription's own default_payment_method, and the
    customer has no invoice_settings default; the page shows that card, not "No card saved"."""
    customer = client.v1.customers.create({"email": email})
    card = save_card(client, customer.id, "pm_card_mastercard")
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": BASIC}],
            "default_payment_method": card.id,
            "payment_behavior": "allow_incomplete",
        }
    )
    assert sub.status == "active"
    settings = client.v1.customers.retrieve(customer.id).invoice_settings
    assert settings is not None
    assert settings.default_payment_method is None
    page = requests.get(_portal(client, customer.id), timeout=10).text
    assert "No card saved" not in page
    assert re.findall(r'data-testid="card">([^<]+)<', page) == [
        "Mastercard &bull;&bull;&bull;&bull; 4444"
    ]


def test_switching_plan_uses_the_configurations_prices_and_proration(
    client: stripe.StripeClient, email: str
) -> None:
    sub = _active(client, email)
    url = _portal(client, str(sub.customer))
    page = requests.get(url, timeout=10).text
    # Offered: the configuration's prices other than the current one.
    assert re.findall(r'name="price" value="([^"]+)"', page) == [PRO, PRO_YEARLY]
    marker = _latest_event(client)

    switched = _post(f"{url}/subscriptions/{sub.id}/switch", price=PRO)
    assert switched.status_code == 200, switched.text
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.items.data[0].price.id == PRO
    assert after.pending_update is None
    # always_invoice (the catalog's portal proration): the difference is billed and paid now.
    invoice = client.v1.invoices.retrieve(str(after.latest_invoice))
    assert (invoice.billing_reason, invoice.status) == ("subscription_update", "paid")
    assert invoice.amount_paid > 0
    kinds = {e.type for e in _events_since(client, marker, "customer.subscription.updated")}
    assert kinds == {"customer.subscription.updated"}
    assert _events_since(client, marker, "invoice.paid")

    not_offered = _post(f"{url}/subscriptions/{sub.id}/switch", price="price_legacy_monthly")
    assert not_offered.status_code == 400
    assert "does not offer the price" in not_offered.text
    # An interval switch among the configuration's prices, as Stripe's portal offers it.
    yearly = _post(f"{url}/subscriptions/{sub.id}/switch", price=PRO_YEARLY)
    assert yearly.status_code == 200, yearly.text
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].price.id == PRO_YEARLY


def test_a_declined_switch_leaves_the_plan_as_it_was(
    client: stripe.StripeClient, email: str
) -> None:
    sub = _active(client, email)
    customer = str(sub.customer)
    url = _portal(client, customer)
    assert _post(f"{url}/payment_method", card_number="4000000000000341").status_code == 200
    declined = _post(f"{url}/subscriptions/{sub.id}/switch", price=PRO)
    assert declined.status_code == 402
    assert "declined" in declined.text
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].price.id == BASIC


def test_a_new_card_becomes_the_default_for_invoices_and_the_subscription(
    client: stripe.StripeClient, email: str
) -> None:
    sub = _active(client, email)
    customer = str(sub.customer)
    url = _portal(client, customer)
    marker = _latest_event(client)

    refused = _post(f"{url}/payment_method", card_number="4000000000000002")
    assert refused.status_code == 402
    assert "Your card was declined." in refused.text
    not_a_test_card = _post(f"{url}/payment_method", card_number="4111111111111112")
    assert not_a_test_card.status_code == 400
    three_ds = _post(f"{url}/payment_method", card_number="4000002760003184")
    assert three_ds.status_code == 400
    assert "3-D Secure" in three_ds.text

    saved = _post(f"{url}/payment_method", card_number="5555 5555 5555 4444")
    assert saved.status_code == 200
    assert "4444" in saved.text
    settings = client.v1.customers.retrieve(customer).invoice_settings
    assert settings is not None
    default = settings.default_payment_method
    assert client.v1.payment_methods.retrieve(str(default)).card.last4 == "4444"  # type: ignore[union-attr]
    assert client.v1.subscriptions.retrieve(sub.id).default_payment_method == default
    assert len(_events_since(client, marker, "payment_method.attached")) == 1
    assert _events_since(client, marker, "customer.updated")


def test_the_page_offers_only_what_the_configuration_allows(
    client: stripe.StripeClient, email: str, configuration: dict[str, Any]
) -> None:
    sub = _active(client, email)
    url = _portal(client, str(sub.customer))
    features = configuration["features"]
    features["subscription_update"]["enabled"] = False
    features["payment_method_update"]["enabled"] = False
    page = requests.get(url, timeout=10).text
    assert "Switch plan" not in page
    assert "Save card" not in page
    assert _post(f"{url}/subscriptions/{sub.id}/switch", price=PRO).status_code == 403
    assert _post(f"{url}/payment_method", card_number="4242424242424242").status_code == 403

    features["subscription_cancel"]["mode"] = "immediately"
    immediate = _post(f"{url}/subscriptions/{sub.id}/cancel")
    assert immediate.status_code == 400
    assert "mode=immediately" in immediate.text
    features["subscription_cancel"]["enabled"] = False
    assert _post(f"{url}/subscriptions/{sub.id}/cancel").status_code == 403
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is False


def test_a_session_cannot_touch_another_customers_subscription(
    client: stripe.StripeClient, email: str
) -> None:
    mine = _active(client, email)
    theirs = _active(client, "other-" + email)
    url = _portal(client, str(mine.customer))
    assert theirs.id not in requests.get(url, timeout=10).text
    for action in ("cancel", "renew"):
        assert _post(f"{url}/subscriptions/{theirs.id}/{action}").status_code == 404
    assert _post(f"{url}/subscriptions/{theirs.id}/switch", price=PRO).status_code == 404
    after = client.v1.subscriptions.retrieve(theirs.id)
    assert (after.cancel_at_period_end, after.items.data[0].price.id) == (False, BASIC)


def test_a_plan_with_usage_can_only_be_canceled_in_the_portal(
    client: stripe.StripeClient, email: str
) -> None:
    # Stripe's portal limitations: a subscription with several items (usage-based billing)
    # can be canceled there, not updated.
    sub = active_subscription(client, email, BASIC, "price_basic_api_calls_monthly")
    url = _portal(client, str(sub.customer))
    page = requests.get(url, timeout=10).text
    assert 'data-testid="cancel-only"' in page
    assert re.findall(r'name="price" value="([^"]+)"', page) == []
    refused = _post(f"{url}/subscriptions/{sub.id}/switch", price=PRO)
    assert refused.status_code == 400
    assert "can only cancel it" in refused.text
    assert {i.price.id for i in client.v1.subscriptions.retrieve(sub.id).items.data} == {
        BASIC,
        "price_basic_api_calls_monthly",
    }
    assert _post(f"{url}/subscriptions/{sub.id}/cancel").status_code == 200
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is True
