"""What the customer is told while Stripe retries a failed renewal (issue 15, point 8;
docs/emails.md, "Failed renewals"): a mail on the first failure saying the day Stripe tries
again (the real ``next_payment_attempt`` of the stand-in's schedule, driven by its clock), none
for the retries in between, and one when the last retry failed, unless that canceled the
subscription (its own mail says so).

Each event is turned into a notification right after its attempt, as a timely webhook would,
from the objects the stand-in holds then; the mail is rendered by the email function."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from billing.config import BillingSettings
from billing.context import Context
from billing.entitlements.notifications import build
from billing.entitlements.sync import Entitlement
from billing.runtime import Runtime
from devstack.stripe_standin import StandinConfig
from mailer.compose import Brand, Composer, recipient
from mailer.contract import parse
from tests.conftest import mail_settings
from tests.standin.conftest import StandinServer, save_card, serving

DAY = 86_400
HOUR = 3600
SCHEDULE = [3, 5, 7]


@pytest.fixture(scope="module")
def own_standin() -> Iterator[StandinServer]:
    """Its own clock: a month and a half of dunning touches no other test's subscriptions."""
    with serving(StandinConfig(), "standin-dunning-mails") as server:
        yield server


def _now(server: StandinServer) -> int:
    return int(server.control("GET", "/_standin/clock")["now"])


def _failing_renewal(server: StandinServer, client: stripe.StripeClient) -> stripe.Subscription:
    customer = client.v1.customers.create(
        {
            "email": "dunning@example.com",
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": "price_basic_monthly"}]}
    )
    failing = save_card(client, customer.id, "pm_card_chargeCustomerFail")
    client.v1.subscriptions.update(sub.id, {"default_payment_method": failing.id})
    return sub


def _long_date(timestamp: int) -> str:
    when = datetime.fromtimestamp(timestamp, UTC)
    return f"{when:%B} {when.day}, {when.year}"  # en_US's long date, written out independently


def _mail_for_latest_failure(
    settings: BillingSettings, client: stripe.StripeClient, sub: stripe.Subscription
) -> tuple[dict[str, Any], str | None]:
    """The newest invoice.payment_failed of the subscription's invoice, and the text of the
    mail it makes now (None: no mail)."""
    invoice_id = str(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    events = client.v1.events.list({"type": "invoice.payment_failed", "limit": 10}).data
    event = next(e for e in events if e.data.object["id"] == invoice_id).to_dict()
    state = Entitlement(
        "dana", str(sub.customer), True, "past_due", sub.id, "price_basic_monthly", None,
        None, False, None, None, None,
    )  # fmt: skip
    ctx = Context(runtime=Runtime(settings, stripe_client=client), request_id="dunning")
    message = build(ctx, event, state)
    if message is None:
        return event, None
    composer = Composer(Brand.from_settings(mail_settings()))
    note = parse(__import__("json").dumps(message).encode())
    mail = composer.compose(note, recipient(note), datetime.now(UTC))
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return event, body.get_content()


@pytest.mark.parametrize("end", ["canceled", "unpaid"])
def test_the_first_and_the_last_failure_are_mailed_with_stripes_real_dates(
    own_standin: StandinServer, settings: BillingSettings, end: str
) -> None:
    own_standin.control(
        "POST", "/_standin/config", {"retry_schedule_days": SCHEDULE, "dunning_end": end}
    )
    client = own_standin.client()
    sub = _failing_renewal(own_standin, client)
    charged_at = sub.items.data[0].current_period_end + HOUR
    own_standin.advance(charged_at + 1 - _now(own_standin))

    event, first = _mail_for_latest_failure(settings, client, sub)
    next_attempt = event["data"]["object"]["next_payment_attempt"]
    assert event["data"]["object"]["attempt_count"] == 1
    assert next_attempt == charged_at + 3 * DAY
    assert first is not None
    assert f"We will try again on {_long_date(next_attempt)}." in first
    assert "We will not try again" not in first

    attempt_at = next_attempt
    for retry, days in enumerate(SCHEDULE[1:], start=2):
        own_standin.advance(attempt_at + 1 - _now(own_standin))
        event, mail = _mail_for_latest_failure(settings, client, sub)
        assert event["data"]["object"]["attempt_count"] == retry
        assert event["data"]["object"]["next_payment_attempt"] == attempt_at + days * DAY
        assert mail is None, f"retry {retry} is not mailed"
        attempt_at += days * DAY

    own_standin.advance(attempt_at + 1 - _now(own_standin))
    event, last = _mail_for_latest_failure(settings, client, sub)
    assert event["data"]["object"]["attempt_count"] == len(SCHEDULE) + 1
    assert event["data"]["object"]["next_payment_attempt"] is None
    assert client.v1.subscriptions.retrieve(sub.id).status == end
    if end == "canceled":
        assert last is None  # the "subscription canceled" mail tells it
    else:
        assert last is not None
        assert "We will not try again on our own." in last
