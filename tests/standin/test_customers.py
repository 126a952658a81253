"""Auth, customers, catalog, PaymentMethods."""

from __future__ import annotations

import re

import pytest
import requests
import stripe

from tests.standin.conftest import StandinServer


def _default_pm(customer: stripe.Customer) -> object:
    assert customer.invoice_settings is not None
    return customer.invoice_settings.default_payment_method


def test_health(standin_server: StandinServer) -> None:
    response = requests.get(f"{standin_server.url}/_standin/health", timeout=5)
    assert (response.status_code, response.json()) == (200, {"ok": True})


# Fake keys are assembled at run time so no key-shaped literal sits in the repository.
@pytest.mark.parametrize(
    "key", ["sk_live_" + "not" + "areal" + "key", "rk_test_" + "fake", "pk_test_" + "fake"]
)
def test_only_test_secret_keys_are_accepted(standin_server: StandinServer, key: str) -> None:
    with pytest.raises(stripe.AuthenticationError) as caught:
        standin_server.client(key).v1.customers.list()
    assert caught.value.http_status == 401


def test_missing_key_is_401_in_stripes_format(standin_server: StandinServer) -> None:
    response = requests.get(f"{standin_server.url}/v1/customers", timeout=5)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")


def test_unknown_url_is_404(standin_server: StandinServer) -> None:
    response = requests.get(
        f"{standin_server.url}/v1/nothing_here",
        headers={"Authorization": "Bearer sk_test_x"},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Unrecognized request URL (GET")


def test_create_retrieve_update_customer(client: stripe.StripeClient, email: str) -> None:
    created = client.v1.customers.create(
        {"email": email, "name": "Ada", "metadata": {"uid": "u1", "plan": "x"}}
    )
    assert re.fullmatch(r"cus_[A-Za-z0-9]{14}", created.id)
    assert created.object == "customer"
    assert created.livemode is False
    assert created.metadata is not None
    assert created.metadata.to_dict() == {"uid": "u1", "plan": "x"}
    assert _default_pm(created) is None

    updated = client.v1.customers.update(
        created.id, {"name": "Ada L.", "metadata": {"plan": "", "tier": "gold"}}
    )
    assert updated.name == "Ada L."
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"uid": "u1", "tier": "gold"}
    assert client.v1.customers.retrieve(created.id).name == "Ada L."

    events = client.v1.events.list({"type": "customer.updated", "limit": 100})
    mine = [e for e in events.data if e.data.object.to_dict().get("id") == created.id]
    assert len(mine) == 1
    previous = mine[0].data.previous_attributes
    assert previous is not None
    assert previous.to_dict() == {"name": "Ada", "metadata": {"plan": "x", "tier": None}}


def test_missing_customer_is_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve("cus_doesnotexist00")
    error = caught.value
    assert (error.http_status, error.code, error.param) == (404, "resource_missing", "id")
    assert error.user_message == "No such customer: 'cus_doesnotexist00'"


def test_list_customers_by_email(client: stripe.StripeClient, email: str) -> None:
    first = client.v1.customers.create({"email": email})
    second = client.v1.customers.create({"email": email})
    client.v1.customers.create({"email": "other-" + email})
    listed = client.v1.customers.list({"email": email})
    assert [c.id for c in listed.data] == [second.id, first.id]  # newest first
    page = client.v1.customers.list({"email": email, "limit": 1})
    assert page.has_more is True
    assert [c.id for c in page.auto_paging_iter()] == [second.id, first.id]


def test_catalog(client: stripe.StripeClient) -> None:
    pro_yearly = client.v1.prices.retrieve("price_pro_yearly", {"expand": ["product"]})
    assert pro_yearly.unit_amount == 29000
    assert pro_yearly.currency == "usd"
    assert pro_yearly.recurring is not None
    assert pro_yearly.recurring.interval == "year"
    product = pro_yearly.product
    assert isinstance(product, stripe.Product)
    assert product.name == "Pro"
    legacy = client.v1.prices.retrieve("price_legacy_monthly")
    assert (legacy.unit_amount, legacy.active, legacy.product) == (500, True, "prod_basic")
    assert client.v1.products.retrieve("prod_basic").name == "Basic"
    basic = client.v1.prices.list({"product": "prod_basic"})
    assert {p.id for p in basic.data} == {"price_basic_monthly", "price_legacy_monthly"}


def test_attach_test_card_creates_a_fresh_payment_method(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    assert re.fullmatch(r"pm_[A-Za-z0-9]{24}", pm.id)
    assert pm.type == "card"
    assert pm.customer == customer.id
    assert pm.card is not None
    assert (pm.card.brand, pm.card.last4, pm.card.funding, pm.card.country) == (
        "visa",
        "4242",
        "credit",
        "US",
    )
    second = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
    assert second.card is not None
    assert second.card.last4 == "4444"
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [p.id for p in listed.data] == [second.id, pm.id]
    assert client.v1.payment_methods.retrieve(pm.id).customer == customer.id


@pytest.mark.parametrize(
    ("card", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
def test_declining_cards_cannot_be_attached(
    client: stripe.StripeClient, email: str, card: str, decline_code: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_methods.attach(card, {"customer": customer.id})
    assert caught.value.code == "card_declined"
    assert caught.value.error is not None
    assert caught.value.error.decline_code == decline_code
    assert client.v1.customers.payment_methods.list(customer.id).data == []


def test_customer_fail_card_attaches(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    assert pm.card is not None
    assert pm.card.last4 == "0341"


def test_default_payment_method_must_be_attached_to_that_customer(
    client: stripe.StripeClient, email: str
) -> None:
    owner = client.v1.customers.create({"email": email})
    other = client.v1.customers.create({"email": "other-" + email})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": owner.id})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.update(
            other.id, {"invoice_settings": {"default_payment_method": pm.id}}
        )
    assert caught.value.param == "invoice_settings[default_payment_method]"
    updated = client.v1.customers.update(
        owner.id, {"invoice_settings": {"default_payment_method": pm.id}}
    )
    assert _default_pm(updated) == pm.id


def test_create_customer_with_test_card_as_default(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
            "expand": ["invoice_settings.default_payment_method"],
        }
    )
    default = _default_pm(customer)
    assert isinstance(default, stripe.PaymentMethod)
    assert default.customer == customer.id


def test_detach_clears_the_customer_default(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm.id}})
    detached = client.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    refreshed = client.v1.customers.retrieve(customer.id)
    assert _default_pm(refreshed) is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.detach(pm.id)


def test_expand_of_a_non_expandable_field_is_rejected(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve(customer.id, {"expand": ["email"]})
    assert "cannot be expanded" in str(caught.value.user_message)
