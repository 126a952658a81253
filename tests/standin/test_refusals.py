"""What the stand-in does not implement it refuses, naming it, instead of ignoring it."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe

from tests.standin.conftest import StandinServer, save_card

AUTH = {"Authorization": "Bearer sk_test_refusals"}


@pytest.fixture
def subscription(client: stripe.StripeClient, email: str) -> stripe.Subscription:
    customer = client.v1.customers.create({"email": email})
    card = save_card(client, customer.id, "pm_card_visa")
    return client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": "price_basic_monthly"}],
            "default_payment_method": card.id,
        }
    )


def _refused(call: Any, param: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    assert caught.value.http_status == 400
    assert caught.value.param == param
    assert "stand-in does not support" in str(caught.value.user_message)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        # Item changes are implemented for prices only, billed at once or pending payment.
        ({"items": [{"id": "si_x", "quantity": 2}]}, "items[0][quantity]"),
        ({"proration_behavior": "create_prorations"}, "proration_behavior"),
        ({"payment_behavior": "allow_incomplete"}, "payment_behavior"),
        ({"proration_date": 1_700_000_000}, "proration_date"),
        ({"pause_collection": {"behavior": "void"}}, "pause_collection"),
        ({"cancel_at": 1_900_000_000}, "cancel_at"),
        ({"trial_end": "now"}, "trial_end"),
        ({"discounts": [{"coupon": "nope"}]}, "discounts[0][coupon]"),
        (
            {
                "payment_settings": {
                    "payment_method_options": {"card": {"request_three_d_secure": "any"}}
                }
            },
            "payment_settings[payment_method_options]",
        ),
    ],
)
def test_subscription_update_refuses_what_it_does_not_do(
    client: stripe.StripeClient, subscription: stripe.Subscription, params: Any, param: str
) -> None:
    _refused(lambda: client.v1.subscriptions.update(subscription.id, params), param)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"discounts": [{"coupon": "does_not_exist"}]}, "discounts[0][coupon]"),
        ({"proration_behavior": "none"}, "proration_behavior"),
        ({"off_session": True}, "off_session"),
        ({"payment_behavior": "pending_if_incomplete"}, "payment_behavior"),
        ({"collection_method": "send_invoice"}, "collection_method"),
    ],
)
def test_subscription_create_refuses_what_it_does_not_do(
    client: stripe.StripeClient, email: str, extra: Any, param: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    params: Any = {"customer": customer.id, "items": [{"price": "price_basic_monthly"}], **extra}
    _refused(lambda: client.v1.subscriptions.create(params), param)
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []


def test_a_nested_unsupported_parameter_is_named_in_full(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    params: Any = {
        "customer": customer.id,
        "items": [{"price": "price_basic_monthly", "tax_rates": ["txr_1"]}],
    }
    _refused(lambda: client.v1.subscriptions.create(params), "items[0][tax_rates]")


def test_customer_balance_and_invoice_footer_are_refused(
    client: stripe.StripeClient, email: str
) -> None:
    _refused(lambda: client.v1.customers.create({"email": email, "balance": -500}), "balance")
    _refused(
        lambda: client.v1.customers.create({"invoice_settings": {"footer": "x"}}),
        "invoice_settings[footer]",
    )


def test_invoice_pay_off_session_true_is_refused(
    client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    assert isinstance(subscription.latest_invoice, str)
    _refused(
        lambda: client.v1.invoices.pay(subscription.latest_invoice, {"off_session": True}),
        "off_session",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/subscriptions/search?query=status:'active'"),
        ("POST", "/v1/billing_portal/configurations"),
        ("POST", "/v1/coupons"),
        ("POST", "/v1/promotion_codes"),
        ("GET", "/v1/prices"),
        ("GET", "/v1/products"),
    ],
)
def test_real_stripe_endpoints_it_does_not_implement_are_400(
    standin_server: StandinServer, method: str, path: str
) -> None:
    response = requests.request(method, standin_server.url + path, headers=AUTH, timeout=10)
    assert response.status_code == 400, response.text
    assert "does not implement" in response.json()["error"]["message"]


def test_subscription_search_is_not_a_subscription_called_search(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.search({"query": "status:'active'"})
    assert "does not implement GET /v1/subscriptions/search" in str(caught.value.user_message)
    assert caught.value.code != "resource_missing"


def test_an_unknown_url_is_stripes_404(standin_server: StandinServer) -> None:
    response = requests.get(f"{standin_server.url}/v1/nothing_here", headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert "Unrecognized request URL" in response.json()["error"]["message"]
