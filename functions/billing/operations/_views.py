"""Frontend-friendly views of Stripe objects: stable fields, no Stripe internals."""

from __future__ import annotations

from collections.abc import Mapping

import stripe
from pydantic import Field

from billing.context import Context, ResponseModel
from billing.operations._ownership import owned
from billing.stripe_api import raw
from billing.stripe_api.raw import Json, id_of
from billing.stripe_api.schedule import scheduled_change


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
    pending_price_id: str | None = Field(
        default=None,
        description="A downgrade scheduled for the period end (DOWNGRADE_POLICY=period_end): "
        "the plan that starts at pending_from.",
    )
    pending_from: int | None = Field(default=None, description="Unix time; see pending_price_id.")


# Expansions that make one subscriptions.retrieve/update answer everything the view needs.
SUBSCRIPTION_EXPAND = [
    "latest_invoice",
    "default_payment_method",
    "customer.invoice_settings.default_payment_method",
    "items.data.price.product",
    "schedule",  # its phases: a downgrade waiting for the period end
]


def owned_subscription(ctx: Context, subscription_id: str) -> tuple[str, Json]:
    """The caller's customer and their subscription, as Stripe's JSON with everything the view
    needs expanded; 404 unless the subscription is the caller's (``_ownership.owned``)."""
    return owned(
        ctx,
        lambda: raw.get(
            ctx.runtime.stripe, f"/v1/subscriptions/{subscription_id}", expand=SUBSCRIPTION_EXPAND
        ),
        lambda sub: raw.id_of(sub["customer"]),
        "subscription",
    )


def _json(obj: stripe.StripeObject | Json) -> Json:
    """The object's JSON: a read-only path hands the API's JSON over as it came, skipping the
    SDK's typed objects (the larger part of such a request's CPU, ``make bench``); typed
    objects from other calls are read the same way, so each view has one definition."""
    return obj if isinstance(obj, Mapping) else obj.to_dict()


def payment_method_summary(
    pm: stripe.PaymentMethod | Json | str | None,
) -> PaymentMethodSummary | None:
    if pm is None or isinstance(pm, str):
        return None
    data = _json(pm)
    card = data.get("card") or {}
    return PaymentMethodSummary(
        id=data["id"],
        type=data["type"],
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def price_summary(price: stripe.Price | Json) -> PriceSummary:
    data = _json(price)
    product = data.get("product")
    recurring = data.get("recurring") or {}
    return PriceSummary(
        id=data["id"],
        product_id=id_of(product) or "",
        product_name=product.get("name") if isinstance(product, Mapping) else None,
        unit_amount=data.get("unit_amount"),
        currency=data["currency"],
        interval=recurring.get("interval"),
        interval_count=recurring.get("interval_count"),
    )


def invoice_summary(invoice: stripe.Invoice | Json | str | None) -> InvoiceSummary | None:
    if invoice is None or isinstance(invoice, str):
        return None
    data = _json(invoice)
    return InvoiceSummary(
        id=data.get("id") or "",
        status=data.get("status"),
        amount_due=data["amount_due"],
        currency=data["currency"],
        # Optional in Stripe's types (a draft or preview has none): omitted, not null.
        hosted_invoice_url=data.get("hosted_invoice_url"),
    )


def _charged_payment_method(sub: Json) -> Json | str | None:
    # What renewals charge: the subscription's own default, else the customer's.
    own: Json | str | None = sub.get("default_payment_method")
    if own is not None:
        return own
    customer = sub.get("customer")
    if not isinstance(customer, Mapping):
        return None
    settings = customer.get("invoice_settings") or {}
    fallback: Json | str | None = settings.get("default_payment_method")
    return fallback


def subscription_view(sub: stripe.Subscription | Json) -> SubscriptionView:
    data = _json(sub)
    items = data["items"]["data"]
    # The plan: the licensed item (metered items come with it and bill usage beyond its quota).
    plans = [
        i for i in items if ((i["price"].get("recurring") or {}).get("usage_type")) != "metered"
    ]
    pending = scheduled_change(data)
    return SubscriptionView(
        subscription_id=data["id"],
        status=data["status"],
        price=price_summary(plans[0]["price"]) if plans else None,
        current_period_end=max((item["current_period_end"] for item in items), default=None),
        cancel_at_period_end=data["cancel_at_period_end"],
        canceled_at=data.get("canceled_at"),
        trial_end=data.get("trial_end"),
        latest_invoice=invoice_summary(data.get("latest_invoice")),
        default_payment_method=payment_method_summary(_charged_payment_method(data)),
        pending_price_id=pending[0] if pending else None,
        pending_from=pending[1] if pending else None,
    )
