"""retry-invoice and update-payment-method read the card (and the invoice) from Stripe while
they read the caller's customer from Firestore (``core.parallel.Background``). The answers must
be the ones the checks gave in turn: a caller without a customer gets the 404 of an id that is
not theirs whatever Stripe answered (or failed to answer) meanwhile, and the card's verdict
counts only once the invoice is found payable (a second click on a paid invoice is answered
"paid", a void one 409, whatever card it names). The stand-in flows are in
tests/integration/test_retry_invoice.py and test_payment_methods.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from billing.auth import Caller
from billing.config import BillingSettings
from billing.context import Context
from billing.errors import Conflict, NotFound
from billing.operations.invoices import RetryInvoiceRequest, retry_invoice
from billing.operations.payment_methods import PaymentMethodRequest, update_payment_method
from billing.runtime import Runtime
from tests.support.fakes import InMemoryCustomers, caller_context


class Stripe:
    """An invoice of cus_1's (its status given) and a card attached to ``card_owner``; every
    POST is kept (none may happen in these tests)."""

    def __init__(
        self, status: str, card_owner: str = "cus_1", subscription: object = "sub_1"
    ) -> None:
        self.invoice = {
            "id": "in_1",
            "object": "invoice",
            "customer": "cus_1",
            "status": status,
            "parent": {"subscription_details": {"subscription": subscription}},
        }
        self.card = {"id": "pm_1", "object": "payment_method", "customer": card_owner}
        self.posts: list[str] = []

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        if method == "post":
            self.posts.append(path)
            raise AssertionError(f"nothing may be written: {path}")
        if path == "/v1/invoices/in_1":
            return SimpleNamespace(data=self.invoice)
        assert path == "/v1/payment_methods/pm_1", path
        return SimpleNamespace(data=self.card)


class Down(Stripe):
    """Stripe unreachable: every read fails."""

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        raise stripe.APIConnectionError("Stripe is down")


def without_customer(settings: BillingSettings, client: Any) -> Context:
    """A signed-in caller who has no Stripe customer (never called create-customer)."""
    runtime = Runtime(settings, stripe_client=client, customers=InMemoryCustomers())
    return Context(runtime=runtime, request_id="r", caller=Caller("u2", None, False))


INVOICE = RetryInvoiceRequest(invoice_id="in_1", payment_method_id="pm_1")
CARD = PaymentMethodRequest(payment_method_id="pm_1")


def test_a_paid_invoice_is_answered_paid_whatever_card_it_names(
    settings: BillingSettings,
) -> None:
    client = Stripe("paid", card_owner="cus_2")
    assert retry_invoice(caller_context(settings, client), INVOICE).status == "paid"
    assert client.posts == []


ENDED = {"id": "sub_1", "object": "subscription", "status": "canceled"}


@pytest.mark.parametrize(
    "client",
    [Stripe("void", card_owner="cus_2"), Stripe("open", card_owner="cus_2", subscription=ENDED)],
    ids=["void invoice", "open invoice of an ended subscription"],
)
def test_an_unpayable_invoice_is_409_not_payable_whatever_card_it_names(
    settings: BillingSettings, client: Stripe
) -> None:
    with pytest.raises(Conflict) as caught:
        retry_invoice(caller_context(settings, client), INVOICE)
    assert caught.value.code == "not_payable"
    assert client.posts == []


def test_another_customers_card_on_a_payable_invoice_is_404(settings: BillingSettings) -> None:
    client = Stripe("open", card_owner="cus_2")
    with pytest.raises(NotFound, match="No such payment method"):
        retry_invoice(caller_context(settings, client), INVOICE)
    assert client.posts == []


@pytest.mark.parametrize("client", [Stripe("open"), Down("open")], ids=["found", "stripe down"])
def test_a_caller_without_a_customer_gets_404_whatever_stripe_answered(
    settings: BillingSettings, client: Stripe
) -> None:
    """The objects exist (cus_1's) or Stripe failed: the same 404 a missing id gets, as when the
    customer was read before Stripe was called."""
    with pytest.raises(NotFound, match="No such invoice"):
        retry_invoice(without_customer(settings, client), INVOICE)
    with pytest.raises(NotFound, match="No such payment method"):
        update_payment_method(without_customer(settings, client), CARD)
    assert client.posts == []
