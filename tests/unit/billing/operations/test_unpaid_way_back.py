"""An unpaid subscription is a dead end in Stripe unless its latest invoice is paid (issue 15,
point 1): its renewals stay drafts and are never attempted, paying an older invoice does not
bring it back, and retry-invoice on the latest draft (finalized, then paid) does.
https://docs.stripe.com/billing/subscriptions/overview#unpaid-subscriptions"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from billing.auth import Caller
from billing.config import BillingSettings
from billing.context import Context
from billing.errors import Conflict
from billing.operations.invoices import RetryInvoiceRequest, retry_invoice
from billing.runtime import Runtime
from devstack.stripe_standin import StandinConfig
from tests.standin.conftest import StandinServer, save_card, serving
from tests.support.fakes import InMemoryCustomers

DAY = 86_400


@pytest.fixture(scope="module")
def own_standin() -> Iterator[StandinServer]:
    """Its own clock: moving it two periods ahead touches no other test's subscriptions."""
    with serving(StandinConfig(), "standin-unpaid") as server:
        yield server


def _to_renewal(
    server: StandinServer, sub: stripe.Subscription, client: stripe.StripeClient
) -> None:
    end = client.v1.subscriptions.retrieve(sub.id).items.data[0].current_period_end
    now = server.control("GET", "/_standin/clock")["now"]
    server.advance(end - now + 3600 + 60)  # the period end and the hour its draft waits


def _unpaid(server: StandinServer, client: stripe.StripeClient) -> dict[str, Any]:
    """A subscription whose renewal failed (past_due, its invoice open), then marked unpaid
    by dunning, then renewed once more."""
    customer = client.v1.customers.create(
        {
            "email": "unpaid@example.com",
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": "price_basic_monthly"}]}
    )
    assert sub.status == "active"
    failing = save_card(client, customer.id, "pm_card_chargeCustomerFail")
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": failing.id}}
    )
    _to_renewal(server, sub, client)
    failed = client.v1.subscriptions.retrieve(sub.id)
    assert failed.status == "past_due"
    older = str(failed.latest_invoice)
    server.control("POST", f"/_standin/subscriptions/{sub.id}/status", {"status": "unpaid"})
    _to_renewal(server, sub, client)
    later = client.v1.subscriptions.retrieve(sub.id)
    card = save_card(client, customer.id, "pm_card_visa")
    return {"customer": customer.id, "sub": later, "older": older, "card": card.id}


def _ctx(settings: BillingSettings, client: stripe.StripeClient, customer: str) -> Context:
    customers = InMemoryCustomers()
    record, _ = customers.begin("ann", "unpaid@example.com", None)
    customers.link(record, customer)
    rt = Runtime(settings, stripe_client=client, customers=customers)
    return Context(runtime=rt, request_id="unpaid", caller=Caller("ann", None, True))


def test_an_unpaid_subscriptions_renewal_is_a_draft_nobody_charges(
    own_standin: StandinServer,
) -> None:
    client = own_standin.client()
    found = _unpaid(own_standin, client)
    sub = found["sub"]
    assert sub.status == "unpaid"
    latest = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert latest.id != found["older"]
    assert (latest.status, latest.auto_advance, latest.attempt_count) == ("draft", False, 0)
    with pytest.raises(stripe.InvalidRequestError):  # a draft is finalized before it is paid
        client.v1.invoices.pay(latest.id, {"payment_method": found["card"]})


def test_retry_invoice_on_the_latest_draft_brings_an_unpaid_subscription_back(
    own_standin: StandinServer, settings: BillingSettings
) -> None:
    client = own_standin.client()
    found = _unpaid(own_standin, client)
    ctx = _ctx(settings, client, found["customer"])
    # Paying the older invoice settles it but, as in Stripe, does not reactivate.
    older = retry_invoice(
        ctx, RetryInvoiceRequest(invoice_id=found["older"], payment_method_id=found["card"])
    )
    assert older.status == "paid"
    assert client.v1.subscriptions.retrieve(found["sub"].id).status == "unpaid"
    latest = str(found["sub"].latest_invoice)
    answer = retry_invoice(
        ctx, RetryInvoiceRequest(invoice_id=latest, payment_method_id=found["card"])
    )
    assert answer.status == "paid"
    assert client.v1.invoices.retrieve(latest).status == "paid"
    assert client.v1.subscriptions.retrieve(found["sub"].id).status == "active"


def test_a_draft_that_is_not_the_way_back_is_refused(
    own_standin: StandinServer, settings: BillingSettings
) -> None:
    """Only an unpaid (or past_due) subscription's latest draft may be opened by the customer."""
    client = own_standin.client()
    found = _unpaid(own_standin, client)
    ctx = _ctx(settings, client, found["customer"])
    own_standin.control(
        "POST", f"/_standin/subscriptions/{found['sub'].id}/status", {"status": "active"}
    )
    with pytest.raises(Conflict):
        retry_invoice(
            ctx,
            RetryInvoiceRequest(
                invoice_id=str(found["sub"].latest_invoice), payment_method_id=found["card"]
            ),
        )
    assert client.v1.invoices.retrieve(str(found["sub"].latest_invoice)).status == "draft"
