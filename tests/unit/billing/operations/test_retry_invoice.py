"""retry_invoice's refusals, read from Stripe's JSON: an invoice of a subscription that has
ended, or one already paid, is never paid again (the stand-in flows are in
tests/integration/test_retry_invoice.py and test_unpaid_way_back.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from billing.config import BillingSettings
from billing.errors import Conflict
from billing.operations.invoices import KEY_BUCKET_SECONDS, RetryInvoiceRequest, retry_invoice
from tests.support.fakes import caller_context


class Stripe:
    """One open invoice of cus_1's, its subscription expanded, and a saved card."""

    def __init__(self, subscription: object, status: str = "open") -> None:
        self.invoice = {
            "id": "in_1",
            "object": "invoice",
            "customer": "cus_1",
            "status": status,
            "parent": {"subscription_details": {"subscription": subscription}},
        }
        self.posts: list[str] = []
        self.keys: dict[str, str | None] = {}  # each POST's idempotency key

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        if method == "post":
            self.posts.append(path)
            self.keys[path] = params.get("idempotency_key")
            return SimpleNamespace(data={"id": "in_1", "object": "invoice", "status": "paid"})
        if path == "/v1/invoices/in_1":
            return SimpleNamespace(data=self.invoice)
        if path == "/v1/customers/cus_1":  # make_default's check: its card held still
            settings = {"default_payment_method": "pm_1"}
            return SimpleNamespace(data={"id": "cus_1", "invoice_settings": settings})
        assert path == "/v1/payment_methods/pm_1", path
        return SimpleNamespace(data={"id": "pm_1", "type": "card", "customer": "cus_1"})


BODY = RetryInvoiceRequest(invoice_id="in_1", payment_method_id="pm_1")


@pytest.mark.parametrize("ended", ["canceled", "incomplete_expired"])
def test_an_invoice_of_an_ended_subscription_is_not_paid(
    settings: BillingSettings, ended: str
) -> None:
    client = Stripe({"id": "sub_1", "object": "subscription", "status": ended})
    with pytest.raises(Conflict) as caught:
        retry_invoice(caller_context(settings, client), BODY)
    assert caught.value.code == "not_payable"
    assert client.posts == []


def test_a_paid_invoice_is_reported_paid_never_charged_again(settings: BillingSettings) -> None:
    client = Stripe("sub_1", status="paid")
    assert retry_invoice(caller_context(settings, client), BODY).status == "paid"
    assert client.posts == []


def test_an_open_invoice_of_a_live_subscription_is_paid_and_its_card_made_default(
    settings: BillingSettings,
) -> None:
    client = Stripe({"id": "sub_1", "object": "subscription", "status": "past_due"})
    assert retry_invoice(caller_context(settings, client), BODY).status == "paid"
    assert client.posts == [
        "/v1/invoices/in_1/pay",
        "/v1/customers/cus_1",
        "/v1/subscriptions/sub_1",  # the invoice's subscription only
    ]


class PaidOrVoidedMeanwhile(Stripe):
    """Stripe refuses the pay: a concurrent retry paid the invoice (or a new checkout voided
    it) between our read and the pay."""

    def __init__(self, subscription: object, became: str) -> None:
        super().__init__(subscription)
        self.became = became

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        if method == "post" and path == "/v1/invoices/in_1/pay":
            self.posts.append(path)
            self.invoice = {**self.invoice, "status": self.became}
            raise stripe.InvalidRequestError("Invoice is already paid.", None)
        return super().raw_request(method, path, **params)


def test_a_pay_refused_because_a_concurrent_retry_paid_it_is_answered_paid(
    settings: BillingSettings,
) -> None:
    client = PaidOrVoidedMeanwhile({"id": "sub_1", "status": "past_due"}, became="paid")
    assert retry_invoice(caller_context(settings, client), BODY).status == "paid"
    assert client.posts == ["/v1/invoices/in_1/pay"]  # no second charge, no card switch


def test_a_pay_refused_because_the_invoice_was_voided_is_409_not_payable(
    settings: BillingSettings,
) -> None:
    client = PaidOrVoidedMeanwhile({"id": "sub_1", "status": "past_due"}, became="void")
    with pytest.raises(Conflict) as caught:
        retry_invoice(caller_context(settings, client), BODY)
    assert caught.value.code == "not_payable"


def test_the_way_back_draft_is_finalized_and_paid_under_keys_of_this_invoice_and_card(
    settings: BillingSettings,
) -> None:
    # A second click after a lost answer shares both keys (Stripe replays instead of charging
    # twice); another card, or a retry a bucket later, gets a key of its own.
    unpaid = {"id": "sub_1", "object": "subscription", "status": "unpaid", "latest_invoice": "in_1"}
    client = Stripe(unpaid, status="draft")
    before = int(time.time()) // KEY_BUCKET_SECONDS
    assert retry_invoice(caller_context(settings, client), BODY).status == "paid"
    after = int(time.time()) // KEY_BUCKET_SECONDS
    assert client.keys["/v1/invoices/in_1/finalize"] == "retry-invoice-finalize:in_1"
    pay_key = client.keys["/v1/invoices/in_1/pay"]
    assert pay_key in {f"retry-invoice:in_1:pm_1:{bucket}" for bucket in (before, after)}
