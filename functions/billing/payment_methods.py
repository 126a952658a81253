"""retrieve_payment_method, create_setup_intent, update_payment_method."""

from __future__ import annotations

import logging

import stripe
from pydantic import Field
from stripe.params import SetupIntentCreateParams

from billing.errors import Conflict
from billing.http import Context, RequestModel, ResponseModel, endpoint
from billing.owned import PaymentMethodId, customer_id, fetch_owned, id_of
from billing.subscriptions import LIVE
from billing.views import PaymentMethodSummary, payment_method_summary

log = logging.getLogger(__name__)


class PaymentMethodRequest(RequestModel):
    payment_method_id: PaymentMethodId


class EmptyRequest(RequestModel):
    pass


class SetupIntentResponse(ResponseModel):
    setup_intent_id: str
    client_secret: str = Field(description="Confirm with Stripe.js (stripe.confirmSetup).")


class UpdatePaymentMethodResponse(ResponseModel):
    payment_method: PaymentMethodSummary
    updated_subscriptions: list[str] = Field(
        description="Live subscriptions that now charge this payment method."
    )


def _summary(pm: stripe.PaymentMethod) -> PaymentMethodSummary:
    summary = payment_method_summary(pm)
    assert summary is not None
    return summary


def own_payment_method(ctx: Context, customer: str, payment_method_id: str) -> stripe.PaymentMethod:
    """One of the caller's saved payment methods.

    A payment method attached to anyone else is 404, whether or not it exists. One attached
    to nobody (fresh from Stripe.js) is refused too rather than attached here: whoever
    learned its id could otherwise charge somebody else's card. Cards are saved with
    create-setup-intent, which also runs 3-D Secure when the bank asks for it.
    """
    pm = fetch_owned(
        lambda: ctx.runtime.stripe.v1.payment_methods.retrieve(payment_method_id),
        lambda pm: id_of(pm.customer) or customer,  # unattached: refused below, not 404
        customer,
        "payment method",
    )
    if pm.customer is None:
        raise Conflict(
            "Save this card first (create-setup-intent, then stripe.confirmSetup).",
            code="payment_method_not_saved",
        )
    return pm


@endpoint("retrieve_payment_method", PaymentMethodRequest, errors=(404,))
def retrieve_payment_method(ctx: Context, body: PaymentMethodRequest) -> PaymentMethodSummary:
    """Brand, last 4 and expiry of one of the caller's payment methods."""
    customer = customer_id(ctx, owning="payment method")
    pm = fetch_owned(
        lambda: ctx.runtime.stripe.v1.payment_methods.retrieve(body.payment_method_id),
        lambda pm: id_of(pm.customer),
        customer,
        "payment method",
    )
    return _summary(pm)


@endpoint("create_setup_intent", EmptyRequest, errors=(409,))
def create_setup_intent(ctx: Context, body: EmptyRequest) -> SetupIntentResponse:
    """A SetupIntent for saving a new card with Stripe.js (handles 3-D Secure)."""
    customer = customer_id(ctx)
    params: SetupIntentCreateParams = {
        "customer": customer,
        "usage": "off_session",
        "allowed_payment_method_types": ["card"],
        "metadata": {"firebase_uid": ctx.caller.uid},
    }
    intent = ctx.runtime.stripe.v1.setup_intents.create(params=params)
    assert intent.client_secret is not None
    return SetupIntentResponse(setup_intent_id=intent.id, client_secret=intent.client_secret)


def make_default(
    ctx: Context, customer: str, payment_method_id: str, only: str | None = None
) -> list[str]:
    """The customer's invoice default, and every live subscription's (or just ``only``).

    Subscriptions created with save_default_payment_method=on_subscription carry their own
    default, which beats the customer's, so both must change for renewals to use the card.
    """
    client = ctx.runtime.stripe
    client.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": payment_method_id}}
    )
    if only is not None:
        targets = [only]
    else:
        subs = client.v1.subscriptions.list(params={"customer": customer, "limit": 100})
        targets = [
            sub.id
            for sub in subs.data
            if sub.status in LIVE and id_of(sub.default_payment_method) != payment_method_id
        ]
    for sub_id in targets:
        client.v1.subscriptions.update(sub_id, params={"default_payment_method": payment_method_id})
    return targets


@endpoint("update_payment_method", PaymentMethodRequest, errors=(404, 409))
def update_payment_method(ctx: Context, body: PaymentMethodRequest) -> UpdatePaymentMethodResponse:
    """Make a saved card the default for the caller's invoices and live subscriptions."""
    customer = customer_id(ctx, owning="payment method")
    pm = own_payment_method(ctx, customer, body.payment_method_id)
    updated = make_default(ctx, customer, pm.id)
    log.info("default payment method updated", extra={"subscriptions": updated})
    return UpdatePaymentMethodResponse(payment_method=_summary(pm), updated_subscriptions=updated)
