"""PaymentIntents: retrieve and confirm (what Stripe.js does with an invoice's secret)."""

from __future__ import annotations

from typing import Any

from stripe.params import PaymentIntentConfirmParams, PaymentIntentRetrieveParams

from devstack.stripe_standin import invoicing
from devstack.stripe_standin.api_errors import invalid_request
from devstack.stripe_standin.resources.common import get_or_404
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

# What Stripe.js sends when it confirms with a card; return_url and the like are not modelled.
_CONFIRM = Supports("payment_method", "setup_future_usage", "error_on_requires_action")


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    pi = get_or_404(ctx.state, "payment_intents", "payment_intent", path["intent"])
    return ctx.render(pi, params)


def confirm(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    pi = get_or_404(state, "payment_intents", "payment_intent", path["intent"])
    if pi["status"] == "succeeded":
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it has already succeeded after being "
            "previously confirmed.",
            code="payment_intent_unexpected_state",
        )
    if pi["status"] == "canceled":
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it has a status of canceled. Only a "
            "PaymentIntent with one of the following statuses may be confirmed: "
            "requires_confirmation, requires_action, requires_payment_method.",
            code="payment_intent_unexpected_state",
        )
    if "payment_method" in params:
        pm = invoicing.resolve_payment_method(
            state, params["payment_method"], ctx.test_card_ids, param="payment_method"
        )
    elif pi["payment_method"]:
        pm = state.data.payment_methods[pi["payment_method"]]
    else:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent, pass a payment_method.",
            code="payment_intent_unexpected_state",
        )
    if pm["customer"] not in (None, pi["customer"]):
        raise invalid_request(
            "The provided PaymentMethod belongs to another customer and cannot be used with "
            "this PaymentIntent.",
            param="payment_method",
        )
    if "setup_future_usage" in params:
        pi["setup_future_usage"] = params["setup_future_usage"] or None
    result = invoicing.attempt_payment(state, pi, pm, ctx.origin)
    if result.outcome == "declined" and result.decline is not None:
        raise invoicing.payment_error(result.decline, pi, pm)
    if result.outcome == "requires_action" and params.get("error_on_requires_action"):
        raise invalid_request(
            "This payment required an authentication action to complete, but "
            "`error_on_requires_action` was set.",
            code="authentication_required",
        )
    return ctx.render(pi, params)


ROUTES = [
    route("GET", "/v1/payment_intents/{intent}", retrieve, PaymentIntentRetrieveParams, Supports()),
    route(
        "POST",
        "/v1/payment_intents/{intent}/confirm",
        confirm,
        PaymentIntentConfirmParams,
        _CONFIRM,
    ),
]
