"""Every object the stand-in renders has Stripe's published shape (npm ``stripe`` 23 types):
each field Stripe always sends is there, none it does not know, and an optional field is
omitted rather than null, as stripe-python would see it from Stripe."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe

from devstack.stripe_standin.shapes import problems
from tests.standin.conftest import StandinServer, intent_id, save_card


class Raw:
    """GETs as JSON, untouched by the SDK."""

    def __init__(self, server: StandinServer) -> None:
        self.url = server.url

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(
            self.url + path,
            params=params,
            headers={"Authorization": "Bearer sk_test_shapes"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def rendered(client: stripe.StripeClient, standin_server: StandinServer, email: str) -> list[Any]:
    raw = Raw(standin_server)
    customer = client.v1.customers.create({"email": email, "name": "Shape", "metadata": {"a": "b"}})
    card = save_card(client, customer.id, "pm_card_visa")
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": card.id}}
    )
    paying = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": "price_basic_monthly"}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    invoice = paying.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.confirmation_secret is not None
    secret = invoice.confirmation_secret.client_secret
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(
            intent_id(secret), {"payment_method": "pm_card_chargeDeclined"}
        )
    declined = raw.get(f"/v1/payment_intents/{intent_id(secret)}")
    client.v1.payment_intents.confirm(
        intent_id(secret), {"payment_method": "pm_card_authenticationRequired"}
    )
    needs_action = raw.get(f"/v1/payment_intents/{intent_id(secret)}")
    standin_server.control(
        "POST",
        f"/_standin/payment_intents/{intent_id(secret)}/authenticate",
        {"outcome": "succeed"},
    )
    other = client.v1.customers.create({"email": "trial-" + email})
    trial = client.v1.subscriptions.create(
        {
            "customer": other.id,
            "items": [{"price": "price_pro_monthly"}],
            "trial_period_days": 7,
            "payment_behavior": "default_incomplete",
        }
    )
    return [
        raw.get(
            f"/v1/customers/{customer.id}",
            **{"expand[]": "invoice_settings.default_payment_method"},
        ),
        raw.get(
            f"/v1/subscriptions/{paying.id}",
            **{
                "expand[0]": "latest_invoice.payments",
                "expand[1]": "items.data.price.product",
                "expand[2]": "default_payment_method",
            },
        ),
        raw.get(
            f"/v1/invoices/{invoice.id}",
            **{
                "expand[0]": "parent.subscription_details.subscription",
                "expand[1]": "confirmation_secret",
            },
        ),
        raw.get(f"/v1/subscriptions/{trial.id}", **{"expand[]": "pending_setup_intent"}),
        raw.get("/v1/subscriptions", customer=customer.id, status="all"),
        raw.get(f"/v1/payment_methods/{card.id}"),
        declined,
        needs_action,
        raw.get(f"/v1/setup_intents/{trial.pending_setup_intent}"),
        raw.get("/v1/events", limit=100),
    ]


def test_every_rendered_object_has_stripes_shape(rendered: list[Any]) -> None:
    found = [problem for obj in rendered for problem in problems(obj)]
    assert found == [], "\n".join(found)


def test_the_check_catches_a_null_where_stripe_omits_the_field() -> None:
    event: dict[str, Any] = {
        "id": "evt_1",
        "object": "event",
        "api_version": None,
        "context": None,
        "created": 1,
        "data": {"object": {}},
        "livemode": False,
        "pending_webhooks": 0,
        "request": None,
        "type": "x",
    }
    assert problems(event) == ["$.context: null, where Stripe omits the field (EventBase)"]
    del event["context"], event["created"]
    assert problems(event) == ["$.created: missing (EventBase always has it)"]
