"""retry_invoice (pay an open invoice of the caller's with a new card) and list_invoices.

retry_invoice reads Stripe's answers as JSON (``billing.stripe_api.raw``), not as the SDK's
typed objects: its invoice comes with the subscription expanded, all of which the SDK would
build into typed objects for the few fields read here."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Literal

import stripe
from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.errors import NOT_PAYABLE, Conflict, NotFound
from billing.operations._cards import make_default, own_payment_method, payment_method_reader
from billing.operations._ownership import (
    InvoiceId,
    PaymentMethodId,
    customer_id,
    fetch_owned,
)
from billing.statuses import ENDED
from billing.stripe_api import raw
from billing.translate import card_error
from core.parallel import Background

log = logging.getLogger(__name__)

# Stripe's answer to invoices.pay when the bank wants 3-D Secure.
REQUIRES_ACTION = "invoice_payment_intent_requires_action"

# The idempotency key's time bucket: a double submit lands in one bucket and replays the first
# answer; a deliberate retry a minute later (say, after topping up the card) is a new attempt.
# Stripe itself never pays an invoice twice, which covers a double submit across buckets.
KEY_BUCKET_SECONDS = 60


class RetryInvoiceRequest(RequestModel):
    invoice_id: InvoiceId
    payment_method_id: PaymentMethodId


class RetryInvoiceResponse(ResponseModel):
    invoice_id: str
    status: Literal["paid", "requires_action", "open"] = Field(
        description="paid; requires_action: confirm client_secret with Stripe.js "
        "(3-D Secure); open: the payment is still processing."
    )
    client_secret: str | None = Field(
        description="When status is requires_action: complete 3-D Secure with Stripe.js, "
        "stripe.confirmCardPayment(client_secret, {payment_method: payment_method_id})."
    )


def _subscription_of(invoice: raw.Json) -> str | raw.Json | None:
    """The invoice's subscription: its id, the object when expanded, or None."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription: str | raw.Json | None = details.get("subscription")
    return subscription


def _way_back(invoice: raw.Json, subscription: object) -> bool:
    """An unpaid subscription's renewals stay drafts and are never attempted; paying its most
    recent invoice, once finalized, makes it active again
    (https://docs.stripe.com/billing/subscriptions/overview#unpaid-subscriptions). That draft is
    the customer's way back; any other draft is not theirs to pay yet."""
    return (
        isinstance(subscription, Mapping)
        and subscription.get("status") in ("unpaid", "past_due")
        and raw.id_of(subscription.get("latest_invoice")) == invoice["id"]
    )


def _answer(
    invoice_id: str, status: Literal["paid", "requires_action", "open"], secret: str | None = None
) -> RetryInvoiceResponse:
    return RetryInvoiceResponse(invoice_id=invoice_id, status=status, client_secret=secret)


def retry_invoice(ctx: Context, body: RetryInvoiceRequest) -> RetryInvoiceResponse:
    """Pay an open invoice of the caller's with one of their saved cards."""
    client = ctx.runtime.stripe

    def read_invoice() -> raw.Json:
        return raw.get(
            client,
            f"/v1/invoices/{body.invoice_id}",
            expand=["parent.subscription_details.subscription"],
        )

    # The invoice and the card are read from Stripe while the customer is from Firestore (all
    # three are ownership checks, none needs another's answer). The invoice's verdict counts
    # once the customer is known, the card's only once the invoice is found payable.
    with (
        Background(read_invoice) as invoice_read,
        Background(payment_method_reader(ctx, body.payment_method_id)) as card,
    ):
        customer = customer_id(ctx, owning="invoice")
        invoice = fetch_owned(
            invoice_read.result, lambda inv: raw.id_of(inv.get("customer")), customer, "invoice"
        )
        status = invoice.get("status")
        if status == "paid":
            # A second click after the first one paid: report it, never charge again.
            return _answer(body.invoice_id, "paid")
        subscription = _subscription_of(invoice)
        draft = status == "draft" and _way_back(invoice, subscription)
        if status not in ("open", "uncollectible") and not draft:
            raise Conflict(f"This invoice is {status} and cannot be paid.", code=NOT_PAYABLE)
        if isinstance(subscription, Mapping) and subscription.get("status") in ENDED:
            raise Conflict(
                "This invoice belongs to a subscription that has ended; start a new one instead.",
                code=NOT_PAYABLE,
            )
        pm_id = str(own_payment_method(card.result, customer)["id"])
    if draft:
        # Opened for this payment only: the customer is here to pay it now.
        raw.post(
            client,
            f"/v1/invoices/{body.invoice_id}/finalize",
            auto_advance=False,
            idempotency_key=f"retry-invoice-finalize:{body.invoice_id}",
        )
    bucket = int(time.time()) // KEY_BUCKET_SECONDS
    try:
        paid = raw.post(
            client,
            f"/v1/invoices/{body.invoice_id}/pay",
            # The customer is here to authenticate, so 3-D Secure is asked for, not declined.
            payment_method=pm_id,
            off_session=False,
            idempotency_key=f"retry-invoice:{body.invoice_id}:{pm_id}:{bucket}",
        )
    except (stripe.InvalidRequestError, stripe.IdempotencyError):
        # A concurrent retry may have paid it a moment ago (Stripe then refuses this one), or
        # it was voided meanwhile (a new checkout replaced its subscription).
        status = raw.get(client, f"/v1/invoices/{body.invoice_id}").get("status")
        if status == "paid":
            return _answer(body.invoice_id, "paid")
        if status not in ("open", "uncollectible"):
            raise Conflict(
                f"This invoice is {status} and cannot be paid.", code=NOT_PAYABLE
            ) from None
        raise
    except stripe.CardError as exc:
        decline = exc.error.decline_code if exc.error else None
        if exc.code != REQUIRES_ACTION and decline != "authentication_required":
            log.info("retry declined", extra={"invoice_id": body.invoice_id, "code": exc.code})
            raise card_error(exc) from None
        pending = raw.get(client, f"/v1/invoices/{body.invoice_id}", expand=["confirmation_secret"])
        secret = (pending.get("confirmation_secret") or {}).get("client_secret")
        # Not the default yet: once the customer authenticates, Stripe saves it on the
        # subscription (save_default_payment_method=on_subscription).
        return _answer(body.invoice_id, "requires_action", secret)
    if paid.get("status") != "paid":
        return _answer(body.invoice_id, "open")
    log.info("invoice paid on retry", extra={"invoice_id": body.invoice_id})
    try:
        # Only a card that just paid becomes the default; a declined one never does. The
        # payment stands even if this fails, so the caller is told it was paid.
        make_default(ctx, customer, pm_id, only=raw.id_of(_subscription_of(invoice)))
    except (stripe.StripeError, Conflict) as exc:
        log.warning(
            "invoice paid, but the card could not be made the default",
            extra={"invoice_id": body.invoice_id, "error": type(exc).__name__},
        )
    return _answer(body.invoice_id, "paid")


class ListInvoicesRequest(RequestModel):
    limit: int = Field(default=10, ge=1, le=100, description="Invoices per page (1-100).")
    starting_after: InvoiceId | None = Field(
        default=None, description="The last invoice of the previous page (next_starting_after)."
    )


class InvoiceRow(ResponseModel):
    id: str
    number: str | None = Field(description="Null until the invoice is finalized.")
    status: str | None = Field(description="draft, open, paid, uncollectible or void")
    total: int
    amount_due: int
    amount_paid: int
    currency: str
    created: int
    period_start: int
    period_end: int
    hosted_invoice_url: str | None = Field(
        description="Stripe's page to view or pay it; null for a draft, which cannot be paid yet."
    )
    invoice_pdf: str | None
    charges_at: int | None = Field(
        description="A draft that Stripe finalizes and charges on its own (a renewal waits about "
        "an hour): when. Null otherwise."
    )
    next_payment_attempt: int | None = Field(
        description="An open invoice whose payment failed: when Stripe tries again. Null when it "
        "will not (paid, no retry left, or never attempted)."
    )


class InvoiceList(ResponseModel):
    invoices: list[InvoiceRow] = Field(description="Newest first.")
    has_more: bool
    next_starting_after: str | None = Field(description="Pass as starting_after for more.")


def _row(invoice: raw.Json) -> InvoiceRow:
    """One invoice as the list shows it, from the JSON Stripe sent: a field Stripe may leave
    out (a draft's ``number`` and URLs) is read with ``.get``, one it always sends with ``[]``."""
    status = invoice["status"]
    return InvoiceRow(
        id=invoice["id"],
        number=invoice.get("number"),
        status=status,
        total=invoice["total"],
        amount_due=invoice["amount_due"],
        amount_paid=invoice["amount_paid"],
        currency=invoice["currency"],
        created=invoice["created"],
        period_start=invoice["period_start"],
        period_end=invoice["period_end"],
        hosted_invoice_url=invoice.get("hosted_invoice_url"),
        invoice_pdf=invoice.get("invoice_pdf"),
        # A renewal is a draft for about an hour before Stripe finalizes and charges it
        # (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection);
        # an unpaid subscription's drafts are never charged (auto_advance false).
        charges_at=invoice.get("automatically_finalizes_at")
        if status == "draft" and invoice.get("auto_advance")
        else None,
        next_payment_attempt=invoice.get("next_payment_attempt") if status == "open" else None,
    )


def list_invoices(ctx: Context, body: ListInvoicesRequest) -> InvoiceList:
    """The caller's invoices, newest first, a page at a time."""
    record = ctx.runtime.customers.get(ctx.user.uid)
    if record is None or record.customer_id is None:
        if body.starting_after is not None:
            raise NotFound("No such invoice.")
        return InvoiceList(invoices=[], has_more=False, next_starting_after=None)
    customer = record.customer_id
    client = ctx.runtime.stripe
    params: dict[str, object] = {"customer": customer, "limit": body.limit}
    if body.starting_after is not None:
        # Stripe pages from any invoice id it is given; only the caller's own may be a cursor.
        cursor = body.starting_after
        fetch_owned(
            lambda: raw.get(client, f"/v1/invoices/{cursor}"),
            lambda inv: raw.id_of(inv.get("customer")),
            customer,
            "invoice",
        )
        params["starting_after"] = cursor
    page = raw.get(client, "/v1/invoices", **params)
    rows = [_row(invoice) for invoice in page["data"]]
    has_more = bool(page["has_more"])
    return InvoiceList(
        invoices=rows,
        has_more=has_more,
        next_starting_after=rows[-1].id if has_more and rows else None,
    )
