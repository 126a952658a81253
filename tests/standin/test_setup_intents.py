"""SetupIntents: success, decline, and the 3-D Secure path."""

from __future__ import annotations

import re

import pytest
import stripe

from tests.standin.conftest import StandinServer


def test_setup_intent_succeeds_and_attaches(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    si = client.v1.setup_intents.create(
        {
            "customer": customer.id,
            "usage": "off_session",
            "automatic_payment_methods": {"enabled": True},
        }
    )
    assert si.status == "requires_payment_method"
    assert si.client_secret is not None
    assert re.fullmatch(rf"{si.id}_secret_[A-Za-z0-9]+", si.client_secret)
    confirmed = client.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert isinstance(confirmed.payment_method, str)
    pm = client.v1.payment_methods.retrieve(confirmed.payment_method)
    assert pm.customer == customer.id
    types = {e.type for e in client.v1.events.list({"limit": 100}).data if _about(e, si.id, pm.id)}
    assert {"setup_intent.created", "setup_intent.succeeded", "payment_method.attached"} <= types


def _about(event: stripe.Event, *ids: str) -> bool:
    return event.data.object.to_dict().get("id") in ids


def test_setup_intent_decline(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    si = client.v1.setup_intents.create({"customer": customer.id})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.setup_intents.confirm(
            si.id, {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )
    error = caught.value.error
    assert error is not None
    assert (error.code, error.decline_code) == ("card_declined", "insufficient_funds")
    assert error.setup_intent is not None
    assert error.setup_intent.status == "requires_payment_method"
    refreshed = client.v1.setup_intents.retrieve(si.id)
    assert refreshed.last_setup_error is not None
    assert refreshed.last_setup_error.decline_code == "insufficient_funds"
    assert isinstance(refreshed.payment_method, str)
    assert client.v1.payment_methods.retrieve(refreshed.payment_method).customer is None


@pytest.mark.parametrize(
    ("outcome", "status"), [("succeed", "succeeded"), ("fail", "requires_payment_method")]
)
def test_setup_intent_three_d_secure(
    client: stripe.StripeClient,
    standin_server: StandinServer,
    email: str,
    outcome: str,
    status: str,
) -> None:
    customer = client.v1.customers.create({"email": email})
    si = client.v1.setup_intents.create({"customer": customer.id})
    pending = client.v1.setup_intents.confirm(
        si.id, {"payment_method": "pm_card_authenticationRequired"}
    )
    assert pending.status == "requires_action"
    assert pending.next_action is not None
    assert pending.next_action.type == "use_stripe_sdk"
    standin_server.control(
        "POST", f"/_standin/setup_intents/{si.id}/authenticate", {"outcome": outcome}
    )
    done = client.v1.setup_intents.retrieve(si.id)
    assert done.status == status
    assert isinstance(done.payment_method, str)
    owner = client.v1.payment_methods.retrieve(done.payment_method).customer
    assert owner == (customer.id if outcome == "succeed" else None)
    if outcome == "fail":
        assert done.last_setup_error is not None
        assert done.last_setup_error.code == "setup_intent_authentication_failure"


def test_confirming_a_succeeded_setup_intent_is_rejected(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    si = client.v1.setup_intents.create(
        {"customer": customer.id, "payment_method": "pm_card_visa", "confirm": True}
    )
    assert si.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.setup_intents.confirm(si.id)
    assert caught.value.code == "setup_intent_unexpected_state"


def test_allowed_payment_method_types_is_honoured(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    cards = client.v1.setup_intents.create(
        {"customer": customer.id, "allowed_payment_method_types": ["card"]}
    )
    assert cards.allowed_payment_method_types == ["card"]
    assert cards.payment_method_types == ["card"]
    banks = client.v1.setup_intents.create(
        {"customer": customer.id, "allowed_payment_method_types": ["us_bank_account"]}
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.setup_intents.confirm(banks.id, {"payment_method": "pm_card_visa"})
    assert caught.value.param == "payment_method"
    assert client.v1.setup_intents.retrieve(banks.id).status == "requires_payment_method"
