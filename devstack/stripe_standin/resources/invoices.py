"""Invoices: list, retrieve, pay (retry an open invoice, e.g. with a new card), void, and
previews of a plan change."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    InvoiceCreatePreviewParams,
    InvoiceFinalizeInvoiceParams,
    InvoiceListParams,
    InvoicePayParams,
    InvoiceRetrieveParams,
    InvoiceVoidInvoiceParams,
)

from devstack.stripe_standin import invoicing, listing, subscription_updates
from devstack.stripe_standin.api_errors import card_error, invalid_request
from devstack.stripe_standin.resources.common import LIST_PAGING, get_or_404
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.state import snapshot
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

_NO_PAYMENT_METHOD = (
    "This customer has no attached payment source or default payment method. Please consider "
    "adding a default payment method. For more information, visit "
    "https://docs.stripe.com/billing/subscriptions/payment-methods-setting"
    "#payment-method-priority."
)
_REQUIRES_ACTION = (
    "This payment requires additional user action before it can be completed successfully. "
    "Payment can be completed using the PaymentIntent associated with the invoice. For more "
    "details see: https://docs.stripe.com/billing/subscriptions/overview#requires-action"
)


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    invoice = get_or_404(ctx.state, "invoices", "invoice", path["invoice"])
    return ctx.render(invoice, params)


def pay(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    invoice = get_or_404(state, "invoices", "invoice", path["invoice"])
    if invoice["status"] == "paid":
        raise invalid_request("Invoice is already paid")
    if invoice["status"] == "void":
        raise invalid_request("You cannot pay a voided invoice.")
    if invoice["status"] == "draft":
        raise invalid_request(
            "The Stripe stand-in does not pay draft invoices: finalize the invoice first."
        )
    sub = invoicing.subscription_of_invoice(state, invoice)
    if params.get("paid_out_of_band"):
        _paid_out_of_band(ctx, invoice)
        return ctx.render(invoice, params)
    if "payment_method" in params:
        pm = invoicing.resolve_payment_method(
            state, params["payment_method"], ctx.test_card_ids, param="payment_method"
        )
        if pm["customer"] not in (None, invoice["customer"]):
            raise invalid_request(
                f"The PaymentMethod {pm['id']} does not belong to the Customer "
                f"{invoice['customer']}. Please use a PaymentMethod belonging to this Customer.",
                param="payment_method",
            )
    else:
        pm_id = invoice["default_payment_method"] or (
            invoicing.default_payment_method_id(state, sub) if sub is not None else None
        )
        if pm_id is None:
            raise invalid_request(_NO_PAYMENT_METHOD)
        pm = state.data.payment_methods[pm_id]
    result = invoicing.pay_invoice(state, invoice, pm, ctx.origin)
    if result.outcome == "declined" and result.decline is not None:
        raise invoicing.payment_error(result.decline, result.payment_intent, pm)
    if result.outcome == "requires_action":
        extra: JSONDict = {}
        if result.payment_intent is not None:
            extra["payment_intent"] = snapshot(result.payment_intent)
        raise card_error("invoice_payment_intent_requires_action", _REQUIRES_ACTION, extra=extra)
    return ctx.render(invoice, params)


def finalize(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    """A draft (an unpaid subscription's renewal) opened for payment
    (https://docs.stripe.com/api/invoices/finalize)."""
    state = ctx.state
    invoice = get_or_404(state, "invoices", "invoice", path["invoice"])
    if invoice["status"] != "draft":
        raise invalid_request(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice."
        )
    sub = invoicing.subscription_of_invoice(state, invoice)
    if sub is None:
        raise invalid_request("The Stripe stand-in finalizes only subscription invoices.")
    if "auto_advance" in params:
        invoice["auto_advance"] = bool(params["auto_advance"])
    invoicing.finalize_invoice(state, invoice, sub, ctx.origin)
    return ctx.render(invoice, params)


def void(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    invoice = get_or_404(ctx.state, "invoices", "invoice", path["invoice"])
    if invoice["status"] != "open":
        raise invalid_request(
            "You can only pass in open invoices. "
            f"This invoice isn't open, it's {invoice['status']}."
        )
    invoicing.void_invoice(ctx.state, invoice, ctx.origin)
    return ctx.render(invoice, params)


def _paid_out_of_band(ctx: ApiContext, invoice: JSONDict) -> None:
    state = ctx.state
    now = state.now()
    invoice["status"] = "paid"
    invoice["amount_paid_off_stripe"] = invoice["amount_remaining"]
    invoice["amount_remaining"] = 0
    invoice["status_transitions"]["paid_at"] = now
    pi = invoicing.invoice_payment_intent(state, invoice)
    if pi is not None and pi["status"] != "succeeded":
        pi.update({"status": "canceled", "canceled_at": now, "next_action": None})
        state.emit("payment_intent.canceled", pi, ctx.origin)
    state.emit("invoice.paid", invoice, ctx.origin)
    sub = invoicing.subscription_of_invoice(state, invoice)
    if sub is not None:
        before = snapshot(sub)
        invoicing.reactivate(sub, invoice)
        if sub["status"] != before["status"]:
            state.emit_update("customer.subscription.updated", sub, before, ctx.origin)


def list_invoices(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    def matches(invoice: JSONDict) -> bool:
        sub = invoicing.subscription_of_invoice(ctx.state, invoice)
        return (
            ("customer" not in params or invoice["customer"] == params["customer"])
            and ("status" not in params or invoice["status"] == params["status"])
            and (
                "subscription" not in params
                or (sub is not None and sub["id"] == params["subscription"])
            )
            and listing.created_matches(invoice, params.get("created"))
        )

    matching = [i for i in listing.newest_first(ctx.state.data.invoices.values()) if matches(i)]
    return ctx.render(listing.paginate(matching, params, "/v1/invoices"), params)


def create_preview(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(subscription_updates.preview(ctx.state, params), params)


# Payments here are on-session (3-D Secure is asked for, not declined); forgive is not modelled.
_PAY = Supports("payment_method", "off_session=false", "paid_out_of_band")
_LIST = Supports("customer", "status", "subscription", *LIST_PAGING)
# Previews of a change to an existing subscription (subscription_updates.preview refuses the rest).
_PREVIEW = Supports(
    "customer",
    "subscription",
    "subscription_details.items[].id",
    "subscription_details.items[].price",
    "subscription_details.proration_behavior",
    "subscription_details.proration_date",
    "discounts[].promotion_code",
)

ROUTES = [
    route(
        "POST", "/v1/invoices/create_preview", create_preview, InvoiceCreatePreviewParams, _PREVIEW
    ),
    route("GET", "/v1/invoices", list_invoices, InvoiceListParams, _LIST),
    route("GET", "/v1/invoices/{invoice}", retrieve, InvoiceRetrieveParams, Supports()),
    route("POST", "/v1/invoices/{invoice}/pay", pay, InvoicePayParams, _PAY),
    route("POST", "/v1/invoices/{invoice}/void", void, InvoiceVoidInvoiceParams, Supports()),
    route(
        "POST",
        "/v1/invoices/{invoice}/finalize",
        finalize,
        InvoiceFinalizeInvoiceParams,
        Supports("auto_advance"),
    ),
]
