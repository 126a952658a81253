"""Auth, customers, PaymentMethods."""

from __future__ import annotations

import re

import pytest
import requests
import stripe

from tests.standin.conftest import StandinServer, save_card


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


def test_saving_a_test_card_creates_a_fresh_payment_method(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    pm = save_card(client, customer.id, "pm_card_visa")
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
    second = save_card(client, customer.id, "pm_card_mastercard")
    assert second.card is not None
    assert second.card.last4 == "4444"
    assert second.id != pm.id


def test_customer_fail_card_saves(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    pm = save_card(client, customer.id, "pm_card_chargeCustomerFail")
    assert pm.card is not None
    assert pm.card.last4 == "0341"


def test_default_payment_method_must_be_attached_to_that_customer(
    client: stripe.StripeClient, email: str
) -> None:
    owner = client.v1.customers.create({"email": email})
    other = client.v1.customers.create({"email": "other-" + email})
    pm = save_card(client, owner.id, "pm_card_visa")
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


def test_expand_of_a_non_expandable_field_is_rejected(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve(customer.id, {"expand": ["email"]})
    assert "cannot be expanded" in str(caught.value.user_message)
