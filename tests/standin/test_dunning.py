"""Renewals and retries take time: a renewal draft waits an hour, a failed one is retried on the
account's schedule, and dunning ends as the account's settings say (dunning.py)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from devstack.stripe_standin.dunning import DunningSettings, retryable
from tests.standin.conftest import StandinServer, save_card

DAY = 86_400
HOUR = 3600


def _subscription(
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


def _failing(client: stripe.StripeClient, sub: stripe.Subscription) -> None:
    failing = save_card(client, str(sub.customer), "pm_card_chargeCustomerFail")
    client.v1.subscriptions.update(sub.id, {"default_payment_method": failing.id})


def _now(server: StandinServer) -> int:
    return int(server.control("GET", "/_standin/clock")["now"])


def _to(server: StandinServer, when: int) -> None:
    server.advance(max(0, when - _now(server)))


def _failures(client: stripe.StripeClient, invoice_id: str) -> list[tuple[int, int | None]]:
    """(attempt_count, next_payment_attempt) of each invoice.payment_failed, oldest first."""
    events = client.v1.events.list({"type": "invoice.payment_failed", "limit": 100}).data
    return [
        (e.data.object["attempt_count"], e.data.object["next_payment_attempt"])
        for e in reversed(events)
        if e.data.object["id"] == invoice_id
    ]


def _configure(server: StandinServer, **settings: Any) -> None:
    server.control("POST", "/_standin/config", settings)


def test_a_renewal_is_a_draft_for_an_hour_then_finalized_and_charged(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    sub = _subscription(client, email)
    end = sub.items.data[0].current_period_end
    _to(standin_server, end + 60)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    draft = renewed.latest_invoice
    assert isinstance(draft, stripe.Invoice)
    assert renewed.status == "active"
    assert renewed.items.data[0].current_period_start == end
    assert (draft.status, draft.auto_advance, draft.attempt_count) == ("draft", True, 0)
    assert draft.automatically_finalizes_at == end + HOUR
    assert draft.amount_due == 999
    assert draft.hosted_invoice_url is None
    _to(standin_server, end + HOUR + 1)
    paid = client.v1.invoices.retrieve(draft.id)
    assert (paid.status, paid.amount_paid, paid.attempt_count) == ("paid", 999, 1)
    assert paid.automatically_finalizes_at is None
    assert paid.status_transitions.finalized_at == end + HOUR


def test_a_failed_renewal_is_retried_on_the_schedule_then_canceled(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    _configure(standin_server, retry_schedule_days=[3, 5, 7], dunning_end="canceled")
    sub = _subscription(client, email)
    _failing(client, sub)
    charged_at = sub.items.data[0].current_period_end + HOUR
    _to(standin_server, charged_at + 1)
    invoice = client.v1.invoices.retrieve(
        str(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    assert invoice.next_payment_attempt == charged_at + 3 * DAY
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    # One day before the retry, nothing has happened yet.
    _to(standin_server, charged_at + 2 * DAY)
    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 1
    _to(standin_server, charged_at + 15 * DAY + 1)
    first, second, third = charged_at + 3 * DAY, charged_at + 8 * DAY, charged_at + 15 * DAY
    assert _failures(client, invoice.id) == [(1, first), (2, second), (3, third), (4, None)]
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled"
    assert ended.cancellation_details is not None
    assert ended.cancellation_details.reason == "payment_failed"
    assert ended.ended_at == third
    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.status, after.attempt_count, after.next_payment_attempt) == ("open", 4, None)
    # Nothing more is attempted.
    standin_server.advance(30 * DAY)
    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 4


@pytest.mark.parametrize("end", ["unpaid", "past_due"])
def test_dunning_ends_as_the_account_setting_says(
    client: stripe.StripeClient, standin_server: StandinServer, email: str, end: str
) -> None:
    _configure(standin_server, retry_schedule_days=[1], dunning_end=end)
    sub = _subscription(client, email)
    _failing(client, sub)
    charged_at = sub.items.data[0].current_period_end + HOUR
    _to(standin_server, charged_at + DAY + 1)
    invoice_id = str(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert _failures(client, invoice_id) == [(1, charged_at + DAY), (2, None)]
    assert client.v1.subscriptions.retrieve(sub.id).status == end


def test_a_retry_charges_the_card_the_customer_saved_since(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    sub = _subscription(client, email)
    _failing(client, sub)
    charged_at = sub.items.data[0].current_period_end + HOUR
    _to(standin_server, charged_at + 1)
    new_card = save_card(client, str(sub.customer), "pm_card_mastercard")
    client.v1.subscriptions.update(sub.id, {"default_payment_method": new_card.id})
    _to(standin_server, charged_at + 3 * DAY + 1)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert renewed.status == "active"
    assert isinstance(renewed.latest_invoice, stripe.Invoice)
    latest = renewed.latest_invoice
    assert (latest.status, latest.attempt_count, latest.next_payment_attempt) == ("paid", 2, None)


def test_paying_by_hand_stops_the_retries(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    sub = _subscription(client, email)
    _failing(client, sub)
    _to(standin_server, sub.items.data[0].current_period_end + HOUR + 1)
    invoice_id = str(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    paid = client.v1.invoices.pay(invoice_id, {"payment_method": "pm_card_visa"})
    assert (paid.status, paid.next_payment_attempt) == ("paid", None)
    standin_server.advance(20 * DAY)
    assert client.v1.invoices.retrieve(invoice_id).attempt_count == 2


def test_the_settings_are_only_what_stripe_offers(standin_server: StandinServer) -> None:
    import requests

    for bad in (
        {"dunning_end": "deleted"},
        {"retry_schedule_days": [0]},
        {"retry_schedule_days": [1] * 9},
    ):
        answer = requests.post(f"{standin_server.url}/_standin/config", json=bad, timeout=10)
        assert answer.status_code == 400, bad
    assert DunningSettings((2, 4)).next_attempt(2, 100) == 100 + 4 * DAY
    assert DunningSettings((2, 4)).next_attempt(3, 100) is None


def test_a_hard_decline_is_not_retried() -> None:
    assert retryable("generic_decline", "card_declined")
    assert retryable("insufficient_funds", "card_declined")
    assert not retryable("stolen_card", "card_declined")
    assert not retryable("lost_card", "card_declined")
