"""list-invoices shows a renewal as Stripe has it while it waits and while it is retried
(issue 15, point 8): a draft for about an hour, with no page to pay it, the amount that will be
charged and when; then, if the charge failed, open with the day Stripe tries again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing.auth import Caller
from billing.config import BillingSettings
from billing.context import Context
from billing.operations.invoices import ListInvoicesRequest, list_invoices
from billing.runtime import Runtime
from devstack.stripe_standin import StandinConfig
from tests.standin.conftest import StandinServer, save_card, serving
from tests.support.fakes import InMemoryCustomers

DAY = 86_400
HOUR = 3600


@pytest.fixture(scope="module")
def own_standin() -> Iterator[StandinServer]:
    """Its own clock: moving it a period ahead touches no other test's subscriptions."""
    with serving(StandinConfig(retry_schedule_days=(2,)), "standin-renewal-invoices") as server:
        yield server


def test_a_renewal_draft_then_its_failed_charge_as_list_invoices_shows_them(
    own_standin: StandinServer, settings: BillingSettings
) -> None:
    client = own_standin.client()
    customer = client.v1.customers.create(
        {
            "email": "renewal@example.com",
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": "price_basic_monthly"}]}
    )
    failing = save_card(client, customer.id, "pm_card_chargeCustomerFail")
    client.v1.subscriptions.update(sub.id, {"default_payment_method": failing.id})
    customers = InMemoryCustomers()
    record, _ = customers.begin("rita", "renewal@example.com", None)
    customers.link(record, customer.id)
    rt = Runtime(settings, stripe_client=client, customers=customers)
    ctx = Context(runtime=rt, request_id="renewal", caller=Caller("rita", None, True))
    end = sub.items.data[0].current_period_end
    now = own_standin.control("GET", "/_standin/clock")["now"]

    own_standin.advance(end + 60 - now)
    draft, first = list_invoices(ctx, ListInvoicesRequest()).invoices
    assert first.status == "paid"
    assert (draft.status, draft.number, draft.hosted_invoice_url) == ("draft", None, None)
    assert (draft.amount_due, draft.period_start) == (999, sub.items.data[0].current_period_start)
    assert draft.charges_at == end + HOUR
    assert draft.next_payment_attempt is None

    own_standin.advance(HOUR)
    failed, _ = list_invoices(ctx, ListInvoicesRequest()).invoices
    assert failed.id == draft.id
    assert failed.status == "open"
    assert failed.hosted_invoice_url is not None
    assert failed.charges_at is None
    assert failed.next_payment_attempt == end + HOUR + 2 * DAY
    assert (failed.amount_due, failed.amount_paid) == (999, 0)

    own_standin.advance(2 * DAY)  # the one retry fails too: Stripe will not try again
    last, _ = list_invoices(ctx, ListInvoicesRequest()).invoices
    assert (last.status, last.next_payment_attempt) == ("open", None)
