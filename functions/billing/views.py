"""Frontend-friendly views of Stripe objects: stable fields, no Stripe internals."""

from __future__ import annotations

import stripe
from pydantic import Field

from billing.context import ResponseModel
from billing.owned import id_of


class PaymentMethodSummary(ResponseModel):
    id: str
    type: str
    brand: str | None = Field(description="visa, mastercard, ... (cards only)")
    last4: str | None
    exp_month: int | None
    exp_year: int | None


class PriceSummary(ResponseModel):
    id: str
    product_id: str
    product_name: str | None
    unit_amount: int | None = Field(description="In the currency's smallest unit (cents).")
    currency: str
    interval: str | None = Field(description="day, week, month or year")
    interval_count: int | None


class InvoiceSummary(ResponseModel):
    id: str
    status: str | None
    amount_due: int
    currency: str
    hosted_invoice_url: str | None


class SubscriptionView(ResponseModel):
    subscription_id: str
    status: str
    price: PriceSummary | None
    current_period_end: int | None = Field(description="Unix time; from the subscription items.")
    cancel_at_period_end: bool
    canceled_at: int | None
    trial_end: int | None
    latest_invoice: InvoiceSummary | None
    default_payment_method: PaymentMethodSummary | None


# Expansions that make one subscriptions.retrieve/update answer everything the view needs.
SUBSCRIPTION_EXPAND = [
    "latest_invoice",
    "default_payment_method",
    "customer.invoice_settings.default_payment_method",
    "items.data.price.product",
]


def payment_method_summary(pm: stripe.PaymentMethod | str | None) -> PaymentMethodSummary | None:
    if pm is None or isinstance(pm, str):
        return None
    card = pm.card if "card" in pm and pm.card is not None else None
    return PaymentMethodSummary(
        id=pm.id,
        type=pm.type,
        brand=card.brand if card else None,
        last4=card.last4 if card else None,
        exp_month=card.exp_month if card else None,
        exp_year=card.exp_year if card else None,
    )


def price_summary(price: stripe.Price) -> PriceSummary:
    product = price.product
    recurring = price.recurring
    return PriceSummary(
        id=price.id,
        product_id=id_of(product) or "",
        product_name=None if isinstance(product, str) else product.name,
        unit_amount=price.unit_amount,
        currency=price.currency,
        interval=recurring.interval if recurring else None,
        interval_count=recurring.interval_count if recurring else None,
    )


def invoice_summary(invoice: stripe.Invoice | str | None) -> InvoiceSummary | None:
    if invoice is None or isinstance(invoice, str):
        return None
    return InvoiceSummary(
        id=invoice.id or "",
        status=invoice.status,
        amount_due=invoice.amount_due,
        currency=invoice.currency,
        # Optional in Stripe's types (a draft or preview has none); the SDK raises if omitted.
        hosted_invoice_url=invoice.hosted_invoice_url if "hosted_invoice_url" in invoice else None,
    )


def _charged_payment_method(sub: stripe.Subscription) -> stripe.PaymentMethod | str | None:
    # What renewals charge: the subscription's own default, else the customer's.
    if sub.default_payment_method is not None:
        return sub.default_payment_method
    customer = sub.customer
    if isinstance(customer, str) or customer.invoice_settings is None:
        return None
    return customer.invoice_settings.default_payment_method


def subscription_view(sub: stripe.Subscription) -> SubscriptionView:
    items = sub.items.data
    return SubscriptionView(
        subscription_id=sub.id,
        status=sub.status,
        price=price_summary(items[0].price) if items else None,
        current_period_end=max((item.current_period_end for item in items), default=None),
        cancel_at_period_end=sub.cancel_at_period_end,
        canceled_at=sub.canceled_at,
        trial_end=sub.trial_end,
        latest_invoice=invoice_summary(sub.latest_invoice),
        default_payment_method=payment_method_summary(_charged_payment_method(sub)),
    )
