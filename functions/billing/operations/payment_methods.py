"""retrieve_payment_method, create_setup_intent, update_payment_method.

Stripe's answers are read as JSON (``billing.stripe_api.raw``), not built into the SDK's typed
objects: each reads a few fields of one object. create_setup_intent is the exception: its
``usage`` parameter is a name raw_request keeps for itself."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.operations._cards import make_default, own_payment_method, payment_method_reader
from billing.operations._ownership import PaymentMethodId, customer_id, owned
from billing.operations._views import PaymentMethodSummary, payment_method_summary
from billing.stripe_api import raw
from core.parallel import Background

if TYPE_CHECKING:
    from stripe.params import SetupIntentCreateParams

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


def _summary(pm: raw.Json) -> PaymentMethodSummary:
    summary = payment_method_summary(pm)
    assert summary is not None
    return summary


def retrieve_payment_method(ctx: Context, body: PaymentMethodRequest) -> PaymentMethodSummary:
    """Brand, last 4 and expiry of one of the caller's payment methods."""
    _, pm = owned(
        ctx,
        lambda: raw.get(ctx.runtime.stripe, f"/v1/payment_methods/{body.payment_method_id}"),
        lambda pm: raw.id_of(pm.get("customer")),
        "payment method",
    )
    return _summary(pm)


def create_setup_intent(ctx: Context, body: EmptyRequest) -> SetupIntentResponse:
    """A SetupIntent for saving a new card with Stripe.js (handles 3-D Secure)."""
    customer = customer_id(ctx)
    params: SetupIntentCreateParams = {
        "customer": customer,
        "usage": "off_session",
        "allowed_payment_method_types": ["card"],
        "metadata": {"firebase_uid": ctx.user.uid},
    }
    # The SDK's typed service, not raw.post: raw_request keeps a ``usage`` keyword for its own
    # telemetry and would never send this one (billing.stripe_api.raw refuses it). The answer
    # is one flat object, two fields read.
    intent = ctx.runtime.stripe.v1.setup_intents.create(params=params)
    assert intent.client_secret is not None
    return SetupIntentResponse(setup_intent_id=intent.id, client_secret=intent.client_secret)


def update_payment_method(ctx: Context, body: PaymentMethodRequest) -> UpdatePaymentMethodResponse:
    """Make a saved card the default for the caller's invoices and live subscriptions."""
    # The card is read from Stripe while the customer is from Firestore (both ownership
    # checks); the card's verdict counts only once the customer is known.
    with Background(payment_method_reader(ctx, body.payment_method_id)) as read:
        customer = customer_id(ctx, owning="payment method")
        pm = own_payment_method(read.result, customer)
    updated = make_default(ctx, customer, pm["id"])
    log.info("default payment method updated", extra={"subscriptions": updated})
    return UpdatePaymentMethodResponse(payment_method=_summary(pm), updated_subscriptions=updated)
