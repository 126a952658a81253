"""retrieve-payment-method, create-setup-intent and update-payment-method over HTTP."""

from __future__ import annotations

import pytest

from tests.support.billing_flows import saved_card, subscribe, with_stripe_calls
from tests.support.stack_fixtures import StandIn, User

pytestmark = pytest.mark.integration


def test_retrieve_payment_method_shows_brand_last4_expiry(user: User, standin: StandIn) -> None:
    subscribe(user, standin)
    pm_id = saved_card(user, standin, "pm_card_visa")
    card = user.ok("retrieve-payment-method", {"payment_method_id": pm_id})
    assert card["id"] == pm_id
    assert card["brand"] == "visa"
    assert card["last4"] == "4242"
    assert isinstance(card["exp_month"], int)
    assert isinstance(card["exp_year"], int)


def test_update_payment_method_switches_invoices_and_live_subscriptions(
    user: User, standin: StandIn
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    pm_id = saved_card(user, standin, "pm_card_mastercard")
    result, calls = with_stripe_calls(
        standin, lambda: user.ok("update-payment-method", {"payment_method_id": pm_id})
    )
    assert result["payment_method"]["brand"] == "mastercard"
    assert result["updated_subscriptions"] == [sub_id]
    view = user.ok("retrieve-subscription", {"subscription_id": sub_id})
    assert view["default_payment_method"]["id"] == pm_id
    customer = standin.sdk.v1.customers.retrieve(user.customer())
    assert customer.invoice_settings is not None
    assert customer.invoice_settings.default_payment_method == pm_id
    assert [(c["method"], c["path"].split("/")[2]) for c in calls] == [
        ("GET", "payment_methods"),
        ("POST", "customers"),
        ("GET", "subscriptions"),
        ("POST", "subscriptions"),
        ("GET", "customers"),  # the default held still: no concurrent change to follow
    ]


def test_another_users_payment_method_is_404_and_nothing_changes(
    user: User, other_user: User, standin: StandIn
) -> None:
    subscribe(user, standin)
    pm_id = saved_card(user, standin, "pm_card_visa")
    other_customer = other_user.customer()
    for function in ("retrieve-payment-method", "update-payment-method"):
        response = other_user.call(function, {"payment_method_id": pm_id})
        assert response.status_code == 404
        missing = other_user.call(function, {"payment_method_id": "pm_doesnotexist"})
        assert response.json() == missing.json()
    customer = standin.sdk.v1.customers.retrieve(other_customer)
    assert (
        customer.invoice_settings is None
        or customer.invoice_settings.default_payment_method is None
    )
    assert standin.sdk.v1.payment_methods.retrieve(pm_id).customer == user.customer()


@pytest.mark.parametrize("function", ["retrieve-payment-method", "update-payment-method"])
@pytest.mark.parametrize("body", [{}, {"payment_method_id": "card_123"}, {"payment_method_id": 1}])
def test_bad_payment_method_ids_are_400(user: User, function: str, body: dict[str, object]) -> None:
    response = user.call(function, body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "payment_method_id"


def test_setup_intent_needs_a_customer(user: User) -> None:
    response = user.call("create-setup-intent", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "customer_required"


def _defaults(user: User, standin: StandIn, sub_id: str) -> tuple[object, object]:
    customer = standin.sdk.v1.customers.retrieve(user.customer())
    settings = customer.invoice_settings
    return (
        settings.default_payment_method if settings else None,
        standin.sdk.v1.subscriptions.retrieve(sub_id).default_payment_method,
    )


def test_stripe_failing_before_any_write_is_503_and_changes_nothing(
    user: User, faults: StandIn
) -> None:
    sub_id = subscribe(user, faults)["subscription_id"]
    pm_id = saved_card(user, faults, "pm_card_mastercard")
    before = _defaults(user, faults, sub_id)
    faults.fault(method="POST", path_prefix="/v1/customers", kind="error", status=500)
    response = user.call("update-payment-method", {"payment_method_id": pm_id})
    assert response.status_code == 503
    faults.clear_faults()
    assert _defaults(user, faults, sub_id) == before


def test_stripe_failing_between_writes_is_503_and_a_retry_completes_the_switch(
    user: User, faults: StandIn
) -> None:
    sub_id = subscribe(user, faults)["subscription_id"]
    pm_id = saved_card(user, faults, "pm_card_mastercard")
    faults.fault(method="POST", path_prefix=f"/v1/subscriptions/{sub_id}", kind="error", status=500)
    response = user.call("update-payment-method", {"payment_method_id": pm_id})
    assert response.status_code == 503
    faults.clear_faults()
    retried = user.ok("update-payment-method", {"payment_method_id": pm_id})
    assert retried["updated_subscriptions"] == [sub_id]
    assert _defaults(user, faults, sub_id) == (pm_id, pm_id)


def test_setup_intent_unavailable_is_503(user: User, faults: StandIn) -> None:
    user.customer()
    faults.fault(method="POST", path_prefix="/v1/setup_intents", kind="error", status=429)
    response = user.call("create-setup-intent", {})
    assert response.status_code == 503


def test_create_setup_intent_takes_no_fields(user: User) -> None:
    user.customer()
    response = user.call("create-setup-intent", {"customer": "cus_someone_else"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "customer"


def test_retrieve_payment_method_unavailable_is_503(user: User, faults: StandIn) -> None:
    subscribe(user, faults)
    pm_id = saved_card(user, faults, "pm_card_visa")
    faults.fault(method="GET", path_prefix="/v1/payment_methods", kind="error", status=500)
    response = user.call("retrieve-payment-method", {"payment_method_id": pm_id})
    assert response.status_code == 503


def test_an_unsaved_card_is_refused_not_attached(user: User, standin: StandIn) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    loose = standin.sdk.v1.payment_methods.retrieve("pm_card_mastercard")  # as Stripe.js makes
    assert loose.customer is None
    response = user.call("update-payment-method", {"payment_method_id": loose.id})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payment_method_not_saved"
    assert standin.sdk.v1.payment_methods.retrieve(loose.id).customer is None
    view = user.ok("retrieve-subscription", {"subscription_id": sub_id})
    assert view["default_payment_method"]["last4"] == "4242"
