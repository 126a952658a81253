"""Subscriptions, invoices and PaymentIntents in the endive shape."""

from __future__ import annotations

from typing import Any, cast

import pytest
import stripe
from stripe.params import SubscriptionCreateParams, SubscriptionListParams

from tests.standin.conftest import StandinServer, intent_id, save_card

PRO = "price_pro_monthly"


def _customer(client: stripe.StripeClient, email: str, card: str | None = None) -> stripe.Customer:
    if card is None:
        return client.v1.customers.create({"email": email})
    return client.v1.customers.create(
        {
            "email": email,
            "payment_method": card,
            "invoice_settings": {"default_payment_method": card},
        }
    )


def _subscribe(client: stripe.StripeClient, customer_id: str, **extra: Any) -> stripe.Subscription:
    params: SubscriptionCreateParams = {
        "customer": customer_id,
        "items": [{"price": PRO}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"],
        "metadata": {"uid": "user-1"},
    }
    params.update(extra)  # type: ignore[typeddict-item]
    return client.v1.subscriptions.create(params)


def _invoice(sub: stripe.Subscription) -> stripe.Invoice:
    assert isinstance(sub.latest_invoice, stripe.Invoice)
    return sub.latest_invoice


def _secret(invoice: stripe.Invoice) -> str:
    assert invoice.confirmation_secret is not None
    return invoice.confirmation_secret.client_secret


def _events(client: stripe.StripeClient, object_id: str) -> list[str]:
    events = client.v1.events.list({"limit": 100}).data
    return [e.type for e in reversed(events) if e.data.object.to_dict().get("id") == object_id]


def test_default_incomplete_then_pay_with_the_confirmation_secret(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email)
    sub = _subscribe(client, customer.id)
    assert sub.status == "incomplete"
    assert sub.metadata.to_dict() == {"uid": "user-1"}
    item = sub.items.data[0]
    assert item.price.id == PRO
    assert item.price.product == "prod_pro"
    assert item.quantity == 1
    assert item.current_period_end > item.current_period_start
    assert "current_period_end" not in sub
    invoice = _invoice(sub)
    assert invoice.status == "open"
    assert (invoice.amount_due, invoice.amount_paid, invoice.currency) == (2900, 0, "usd")
    assert "payment_intent" not in invoice
    assert invoice.parent is not None
    assert invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.confirmation_secret is not None
    assert invoice.confirmation_secret.type == "payment_intent"
    assert invoice.hosted_invoice_url is not None
    # confirmation_secret is only present when expanded.
    assert "confirmation_secret" not in client.v1.invoices.retrieve(invoice.id)

    pi = client.v1.payment_intents.confirm(
        intent_id(_secret(invoice)), {"payment_method": "pm_card_visa"}
    )
    assert pi.status == "succeeded"
    paid = client.v1.invoices.retrieve(invoice.id)
    assert (paid.status, paid.amount_paid, paid.attempt_count) == ("paid", 2900, 1)
    active = client.v1.subscriptions.retrieve(sub.id, {"expand": ["default_payment_method"]})
    assert active.status == "active"
    assert isinstance(active.default_payment_method, stripe.PaymentMethod)
    assert active.default_payment_method.customer == customer.id
    assert _events(client, sub.id) == [
        "customer.subscription.created",
        "customer.subscription.updated",
    ]
    assert _events(client, invoice.id) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    updated = next(
        e
        for e in client.v1.events.list({"type": "customer.subscription.updated"}).data
        if e.data.object.to_dict().get("id") == sub.id
    )
    assert updated.data.previous_attributes is not None
    assert updated.data.previous_attributes["status"] == "incomplete"


def test_trial_has_a_paid_zero_invoice_and_a_pending_setup_intent(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email)
    sub = _subscribe(client, customer.id, trial_period_days=14)
    assert sub.status == "trialing"
    assert sub.trial_start is not None
    assert sub.trial_end is not None
    assert sub.trial_end - sub.trial_start == 14 * 86400
    assert sub.items.data[0].current_period_end == sub.trial_end
    invoice = _invoice(sub)
    assert (invoice.status, invoice.amount_due) == ("paid", 0)
    si = sub.pending_setup_intent
    assert isinstance(si, stripe.SetupIntent)
    assert si.customer == customer.id
    confirmed = client.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.pending_setup_intent is None
    assert after.default_payment_method == confirmed.payment_method
    assert after.status == "trialing"


def test_allow_incomplete_charges_the_default_payment_method(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email, "pm_card_visa")
    sub = _subscribe(client, customer.id, payment_behavior="allow_incomplete")
    assert sub.status == "active"
    assert _invoice(sub).status == "paid"
    created = [
        e
        for e in client.v1.events.list({"type": "customer.subscription.created"}).data
        if e.data.object.to_dict().get("id") == sub.id
    ]
    assert created[0].data.object["status"] == "active"


def test_allow_incomplete_decline_leaves_it_incomplete(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email, "pm_card_chargeCustomerFail")
    sub = _subscribe(client, customer.id, payment_behavior="allow_incomplete")
    assert sub.status == "incomplete"
    invoice = _invoice(sub)
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    assert "invoice.payment_failed" in _events(client, invoice.id)


def test_error_if_incomplete_decline_creates_nothing(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email, "pm_card_chargeCustomerFail")
    with pytest.raises(stripe.CardError) as caught:
        _subscribe(client, customer.id, payment_behavior="error_if_incomplete")
    assert caught.value.code == "card_declined"
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []


def test_confirm_decline_then_pay_invoice_with_a_new_card(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email)
    sub = _subscribe(client, customer.id)
    invoice = _invoice(sub)
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.confirm(
            intent_id(_secret(invoice)), {"payment_method": "pm_card_chargeDeclined"}
        )
    error = caught.value.error
    assert error is not None
    assert (error.code, error.decline_code) == ("card_declined", "generic_decline")
    assert error.payment_intent is not None
    assert error.payment_intent.status == "requires_payment_method"
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"

    with pytest.raises(stripe.CardError) as insufficient:
        client.v1.invoices.pay(
            invoice.id, {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )
    assert insufficient.value.error is not None
    assert insufficient.value.error.decline_code == "insufficient_funds"
    assert client.v1.invoices.retrieve(invoice.id).status == "open"

    paid = client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_visa"})
    assert paid.status == "paid"
    assert paid.attempt_count == 3
    active = client.v1.subscriptions.retrieve(sub.id)
    assert active.status == "active"
    assert active.default_payment_method is not None

    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_visa"})
    assert again.value.user_message == "Invoice is already paid"


def test_three_d_secure_on_confirm_then_authenticate(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    customer = _customer(client, email)
    sub = _subscribe(client, customer.id)
    invoice = _invoice(sub)
    pi = client.v1.payment_intents.confirm(
        intent_id(_secret(invoice)), {"payment_method": "pm_card_authenticationRequired"}
    )
    assert pi.status == "requires_action"
    assert pi.next_action is not None
    assert "invoice.payment_action_required" in _events(client, invoice.id)
    standin_server.control("POST", f"/_standin/payment_intents/{pi.id}/authenticate")
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_three_d_secure_on_invoice_pay_is_402_requires_action(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    customer = _customer(client, email)
    sub = _subscribe(client, customer.id)
    invoice = _invoice(sub)
    with pytest.raises(stripe.CardError) as caught:
        client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_authenticationRequired"})
    assert caught.value.code == "invoice_payment_intent_requires_action"
    pi = client.v1.payment_intents.retrieve(intent_id(_secret(invoice)))
    assert pi.status == "requires_action"
    standin_server.control(
        "POST", f"/_standin/payment_intents/{pi.id}/authenticate", {"outcome": "fail"}
    )
    failed = client.v1.payment_intents.retrieve(pi.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"


def test_update_cancel_at_period_end_and_default_payment_method(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email, "pm_card_visa")
    sub = _subscribe(client, customer.id, payment_behavior="allow_incomplete")
    updated = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert updated.cancel_at_period_end is True
    assert updated.status == "active"
    assert updated.cancel_at == updated.items.data[0].current_period_end
    assert updated.canceled_at is not None

    stranger = _customer(client, "other-" + email)
    foreign = save_card(client, stranger.id, "pm_card_visa")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub.id, {"default_payment_method": foreign.id})
    assert caught.value.param == "default_payment_method"

    own = save_card(client, customer.id, "pm_card_mastercard")
    changed = client.v1.subscriptions.update(sub.id, {"default_payment_method": own.id})
    assert changed.default_payment_method == own.id


def test_cancel_now_and_canceled_is_read_only(client: stripe.StripeClient, email: str) -> None:
    customer = _customer(client, email, "pm_card_visa")
    sub = _subscribe(client, customer.id, payment_behavior="allow_incomplete")
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert canceled.ended_at is not None
    assert canceled.canceled_at is not None
    assert "customer.subscription.deleted" in _events(client, sub.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert caught.value.user_message == (
        "A canceled subscription can only update its cancellation_details and metadata."
    )
    kept = client.v1.subscriptions.update(sub.id, {"metadata": {"note": "bye"}})
    assert kept.metadata["note"] == "bye"
    with pytest.raises(stripe.InvalidRequestError) as twice:
        client.v1.subscriptions.cancel(sub.id)
    assert twice.value.http_status == 404


def test_list_filters(client: stripe.StripeClient, email: str) -> None:
    customer = _customer(client, email, "pm_card_visa")
    active = _subscribe(client, customer.id, payment_behavior="allow_incomplete")
    yearly = _subscribe(client, customer.id, items=[{"price": "price_pro_yearly"}])
    ended = _subscribe(client, customer.id, payment_behavior="allow_incomplete")
    client.v1.subscriptions.cancel(ended.id)

    def ids(**params: Any) -> set[str]:
        query = cast(SubscriptionListParams, {"customer": customer.id, **params})
        listed = client.v1.subscriptions.list(query)
        return {s.id for s in listed.data}

    assert ids() == {active.id, yearly.id}
    assert ids(status="all") == {active.id, yearly.id, ended.id}
    assert ids(status="canceled") == {ended.id}
    assert ids(status="incomplete") == {yearly.id}
    assert ids(price="price_pro_yearly") == {yearly.id}


def test_unknown_price_and_customer_are_400_with_param(
    client: stripe.StripeClient, email: str
) -> None:
    customer = _customer(client, email)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _subscribe(client, customer.id, items=[{"price": "price_nope"}])
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (
        400,
        "resource_missing",
        "items[0][price]",
    )
    with pytest.raises(stripe.InvalidRequestError) as missing:
        _subscribe(client, "cus_nobodyhere000")
    assert missing.value.param == "customer"


def test_voiding_the_first_invoice_cancels_its_payment(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    sub = _subscribe(client, customer.id)
    invoice = _invoice(sub)
    assert invoice.id is not None
    voided = client.v1.invoices.void_invoice(invoice.id)
    assert voided.status == "void"
    pi_id = _secret(invoice).split("_secret_")[0]
    assert client.v1.payment_intents.retrieve(pi_id).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_visa"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(invoice.id)
    assert "invoice.voided" in _events(client, invoice.id)


def test_a_trial_ending_without_a_card_into_a_pause_sends_paused(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """trial_settings.end_behavior.missing_payment_method=pause: the subscription enters
    ``paused`` and Stripe sends customer.subscription.paused (what the webhook syncs on)."""
    customer = client.v1.customers.create({"email": email})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": "price_basic_monthly"}],
            "trial_period_days": 1,
            "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
        }
    )
    assert sub.status == "trialing"
    standin_server.advance(2 * 86_400)
    assert client.v1.subscriptions.retrieve(sub.id).status == "paused"
    paused = client.v1.events.list({"type": "customer.subscription.paused", "limit": 100}).data
    assert [e.data.object["id"] for e in paused].count(sub.id) == 1
