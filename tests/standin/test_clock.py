"""Advancing the stand-in's clock: renewals, failed renewals, period-end cancels, expiry."""

from __future__ import annotations

import time

import pytest
import requests
import stripe

from devstack.stripe_standin import clock as clock_module
from tests.standin.conftest import StandinServer, save_card

DAY = 86_400


def _active_subscription(
    client: stripe.StripeClient, email: str, card: str = "pm_card_visa"
) -> stripe.Subscription:
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": card,
            "invoice_settings": {"default_payment_method": card},
        }
    )
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": "price_basic_monthly"}],
            "payment_behavior": "allow_incomplete",
        }
    )
    assert sub.status == "active"
    return sub


def _advance_past_period_end(standin_server: StandinServer, sub: stripe.Subscription) -> None:
    now = standin_server.control("GET", "/_standin/clock")["now"]
    # Past the period end and the hour the renewal draft waits before it is charged.
    standin_server.advance(sub.items.data[0].current_period_end - now + 3600 + 60)


def _types(client: stripe.StripeClient, object_id: str) -> list[str]:
    events = client.v1.events.list({"limit": 100}).data
    return [e.type for e in reversed(events) if e.data.object.to_dict().get("id") == object_id]


def test_renewal_charges_the_default_payment_method(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    sub = _active_subscription(client, email)
    first_invoice = sub.latest_invoice
    old_end = sub.items.data[0].current_period_end
    _advance_past_period_end(standin_server, sub)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert renewed.status == "active"
    item = renewed.items.data[0]
    assert item.current_period_start == old_end
    assert 28 * DAY <= item.current_period_end - old_end <= 31 * DAY
    invoice = renewed.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.id != first_invoice
    assert (invoice.status, invoice.billing_reason, invoice.amount_paid) == (
        "paid",
        "subscription_cycle",
        999,
    )
    assert invoice.lines.data[0].period.start == old_end
    assert _types(client, invoice.id) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    updated = [
        e
        for e in client.v1.events.list({"type": "customer.subscription.updated"}).data
        if e.data.object.to_dict().get("id") == sub.id
    ]
    assert updated
    assert updated[0].request is not None
    assert updated[0].request.id is None


def test_failed_renewal_makes_it_past_due_until_paid(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    sub = _active_subscription(client, email)
    assert isinstance(sub.customer, str)
    failing = save_card(client, sub.customer, "pm_card_chargeCustomerFail")
    client.v1.subscriptions.update(sub.id, {"default_payment_method": failing.id})
    _advance_past_period_end(standin_server, sub)
    past_due = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert past_due.status == "past_due"
    invoice = past_due.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    assert "invoice.payment_failed" in _types(client, invoice.id)
    paid = client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_visa"})
    assert paid.status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_cancel_at_period_end_ends_the_subscription(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    sub = _active_subscription(client, email)
    client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    standin_server.advance(DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    _advance_past_period_end(standin_server, sub)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled"
    assert ended.ended_at == sub.items.data[0].current_period_end
    assert "customer.subscription.deleted" in _types(client, sub.id)
    assert client.v1.subscriptions.retrieve(sub.id).latest_invoice == sub.latest_invoice


def test_trial_ends_into_a_paid_period(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": "price_pro_monthly"}],
            "trial_period_days": 7,
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["pending_setup_intent"],
        }
    )
    assert isinstance(sub.pending_setup_intent, stripe.SetupIntent)
    client.v1.setup_intents.confirm(sub.pending_setup_intent.id, {"payment_method": "pm_card_visa"})
    standin_server.advance(5 * DAY)
    assert "customer.subscription.trial_will_end" in _types(client, sub.id)
    assert client.v1.subscriptions.retrieve(sub.id).status == "trialing"
    standin_server.advance(2 * DAY + 3600 + 60)  # the trial's end, and the draft's hour
    after = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert after.status == "active"
    assert isinstance(after.latest_invoice, stripe.Invoice)
    assert (after.latest_invoice.amount_paid, after.latest_invoice.status) == (2900, "paid")


def test_unpaid_first_invoice_expires_after_23_hours(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": "price_pro_monthly"}],
            "payment_behavior": "default_incomplete",
        }
    )
    standin_server.advance(22 * 3600)
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    standin_server.advance(3600 + 60)
    expired = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert expired.status == "incomplete_expired"
    assert isinstance(expired.latest_invoice, stripe.Invoice)
    assert expired.latest_invoice.status == "void"


def test_the_control_api_moves_a_running_subscription_through_dunning(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    sub = _active_subscription(client, email)
    for status in ("past_due", "unpaid", "paused", "active"):
        standin_server.control(
            "POST", f"/_standin/subscriptions/{sub.id}/status", {"status": status}
        )
        assert client.v1.subscriptions.retrieve(sub.id).status == status
    assert _types(client, sub.id)[-4:] == ["customer.subscription.updated"] * 4
    refused = requests.post(
        f"{standin_server.url}/_standin/subscriptions/{sub.id}/status",
        json={"status": "trialing"},
        timeout=10,
    )
    assert refused.status_code == 400
    client.v1.subscriptions.cancel(sub.id)
    ended = requests.post(
        f"{standin_server.url}/_standin/subscriptions/{sub.id}/status",
        json={"status": "active"},
        timeout=10,
    )
    assert ended.status_code == 400


def test_a_scheduled_step_reads_its_own_time_however_long_it_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A renewal, charge or retry runs with the clock standing at its scheduled second, so a
    retry "3 days after the attempt" is exactly that even when the machine is busy."""
    wall = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    clock = clock_module.Clock()
    due = clock.now() + 10 * DAY
    with clock.held_at(due):
        wall[0] += 5  # the step takes five wall-clock seconds on a busy machine
        assert clock.now() == due
    assert clock.now() == due + 5  # afterwards the clock runs on from there
