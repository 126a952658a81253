"""SetupIntents: create, retrieve, confirm; 3-D Secure completes through the control API."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    SetupIntentConfirmParams,
    SetupIntentCreateParams,
    SetupIntentRetrieveParams,
)

from devstack.stripe_standin import ids, invoicing, objects
from devstack.stripe_standin.api_errors import card_error, invalid_request
from devstack.stripe_standin.resources.common import (
    get_or_404,
    get_param_object,
    merge_metadata,
)
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.state import Origin, State, snapshot
from devstack.stripe_standin.supports import Supports
from devstack.stripe_standin.testmode_cards import (
    SETUP_AUTHENTICATION_FAILURE,
    Decline,
    setup_outcome,
)

JSONDict = dict[str, Any]

_CREATE = Supports(
    "customer",
    "usage",
    "allowed_payment_method_types",
    "automatic_payment_methods.enabled",
    "automatic_payment_methods.allow_redirects",
    "payment_method",
    "confirm",
    "metadata",
    "description",
)


def new_setup_intent(
    state: State,
    customer_id: str | None,
    origin: Origin,
    *,
    usage: str = "off_session",
    payment_method_types: list[str] | None = None,
    allowed_types: list[str] | None = None,
) -> JSONDict:
    si = objects.setup_intent(ids.new_id("seti"), state.now())
    si["customer"] = customer_id
    si["usage"] = usage
    if payment_method_types:
        si["payment_method_types"] = payment_method_types
    if allowed_types:
        # The endive name; the types the intent then accepts are exactly these.
        si["allowed_payment_method_types"] = list(allowed_types)
        si["payment_method_types"] = list(allowed_types)
    state.data.setup_intents[si["id"]] = si
    state.emit("setup_intent.created", si, origin)
    return si


def create(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    if "automatic_payment_methods" in params and "allowed_payment_method_types" in params:
        raise invalid_request(
            "You may only specify one of these parameters: allowed_payment_method_types, "
            "automatic_payment_methods.",
            param="automatic_payment_methods",
            code="parameters_exclusive",
        )
    customer_id = params.get("customer")
    if customer_id is not None:
        get_param_object(state, "customers", "customer", customer_id, "customer")
    pm = None
    if "payment_method" in params:
        pm = invoicing.resolve_payment_method(
            state, params["payment_method"], ctx.test_card_ids, param="payment_method"
        )
    if params.get("confirm") and pm is None:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            param="payment_method",
            code="setup_intent_unexpected_state",
        )
    si = new_setup_intent(
        state,
        customer_id,
        ctx.origin,
        usage=params.get("usage", "off_session"),
        allowed_types=params.get("allowed_payment_method_types"),
    )
    automatic = params.get("automatic_payment_methods")
    if automatic is not None:
        si["automatic_payment_methods"] = {
            "allow_redirects": automatic.get("allow_redirects", "always"),
            "enabled": bool(automatic.get("enabled")),
        }
    if "metadata" in params:
        si["metadata"] = merge_metadata(si["metadata"], params["metadata"])
    if "description" in params:
        si["description"] = params["description"]
    if pm is not None:
        si["payment_method"] = pm["id"]
        si["status"] = "requires_confirmation"
        if params.get("confirm"):
            confirm_with(ctx, si, pm)
    return ctx.render(si, params)


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    si = get_or_404(ctx.state, "setup_intents", "setup_intent", path["intent"])
    return ctx.render(si, params)


def confirm(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    si = get_or_404(state, "setup_intents", "setup_intent", path["intent"])
    if si["status"] in ("succeeded", "canceled"):
        verb = "already succeeded" if si["status"] == "succeeded" else "been canceled"
        raise invalid_request(
            f"You cannot confirm this SetupIntent because it has {verb}.",
            code="setup_intent_unexpected_state",
        )
    if "payment_method" in params:
        pm = invoicing.resolve_payment_method(
            state, params["payment_method"], ctx.test_card_ids, param="payment_method"
        )
    elif si["payment_method"]:
        pm = state.data.payment_methods[si["payment_method"]]
    else:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method. Update "
            "the SetupIntent with a payment method and then confirm it again.",
            code="setup_intent_unexpected_state",
        )
    confirm_with(ctx, si, pm)
    return ctx.render(si, params)


def confirm_with(ctx: ApiContext, si: JSONDict, pm: JSONDict) -> None:
    state = ctx.state
    if si["customer"] and pm["customer"] not in (None, si["customer"]):
        raise invalid_request(
            "The provided PaymentMethod is attached to another customer and cannot be used "
            "with this SetupIntent.",
            param="payment_method",
        )
    if pm["type"] not in si["payment_method_types"]:
        raise invalid_request(
            f"The PaymentMethod provided ({pm['type']}) is not allowed for this SetupIntent. "
            f"Try again with one of: {', '.join(si['payment_method_types'])}.",
            param="payment_method",
            code="payment_intent_incompatible_payment_method",
        )
    si["payment_method"] = pm["id"]
    outcome, decline = setup_outcome(state.data.pm_info[pm["id"]].profile)
    if outcome == "succeeded":
        setup_succeeded(state, si, pm, ctx.origin)
    elif outcome == "requires_action":
        si["status"] = "requires_action"
        si["last_setup_error"] = None
        si["next_action"] = objects.next_action_3ds(
            state.base_url, f"/_standin/setup_intents/{si['id']}/authenticate"
        )
        state.emit("setup_intent.requires_action", si, ctx.origin)
    elif decline is not None:
        setup_failed(state, si, pm, decline, ctx.origin)
        raise card_error(
            decline.code,
            decline.message,
            decline_code=decline.decline_code,
            extra={"setup_intent": snapshot(si), "payment_method": snapshot(pm)},
        )


def setup_failed(
    state: State, si: JSONDict, pm: JSONDict, decline: Decline, origin: Origin
) -> None:
    si["status"] = "requires_payment_method"
    si["next_action"] = None
    si["last_setup_error"] = invoicing.last_payment_error(decline, pm)
    state.emit("setup_intent.setup_failed", si, origin)


def setup_succeeded(state: State, si: JSONDict, pm: JSONDict, origin: Origin) -> None:
    si["status"] = "succeeded"
    si["next_action"] = None
    si["last_setup_error"] = None
    state.data.pm_info[pm["id"]].set_up = True
    if si["customer"] and pm["customer"] is None:
        pm["customer"] = si["customer"]
        state.emit("payment_method.attached", pm, origin)
    state.emit("setup_intent.succeeded", si, origin)
    sub_id = state.data.si_subscription.get(si["id"])
    sub = state.data.subscriptions.get(sub_id) if sub_id else None
    if sub is not None and sub["pending_setup_intent"] == si["id"]:
        before = snapshot(sub)
        sub["pending_setup_intent"] = None
        saves_default = sub["payment_settings"]["save_default_payment_method"]
        if saves_default == "on_subscription" and pm["customer"] == sub["customer"]:
            sub["default_payment_method"] = pm["id"]
        state.emit_update("customer.subscription.updated", sub, before, origin)


def authenticate(state: State, si: JSONDict, succeed: bool, origin: Origin) -> None:
    """The customer completes (or fails) 3-D Secure for a SetupIntent in requires_action."""
    if si["status"] != "requires_action":
        raise invalid_request(
            f"This SetupIntent's status is {si['status']}; only a SetupIntent in "
            "requires_action can be authenticated.",
            code="setup_intent_unexpected_state",
        )
    pm = state.data.payment_methods[si["payment_method"]]
    if succeed:
        setup_succeeded(state, si, pm, origin)
    else:
        setup_failed(state, si, pm, SETUP_AUTHENTICATION_FAILURE, origin)


ROUTES = [
    route("POST", "/v1/setup_intents", create, SetupIntentCreateParams, _CREATE),
    route("GET", "/v1/setup_intents/{intent}", retrieve, SetupIntentRetrieveParams, Supports()),
    route(
        "POST",
        "/v1/setup_intents/{intent}/confirm",
        confirm,
        SetupIntentConfirmParams,
        Supports("payment_method"),
    ),
]
