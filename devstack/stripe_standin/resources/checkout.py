"""Checkout Sessions in ``subscription`` mode for an existing customer: create, retrieve, list,
expire, and completion by a (simulated) customer on the hosted page.

What is modelled: catalog prices as ``line_items``, ``discounts`` with promotion codes or
``allow_promotion_codes``, ``subscription_data[metadata]``, ``success_url`` / ``cancel_url``.
Completing a session (``POST /_standin/checkout/sessions/{id}/complete``, what the customer's
browser does on the hosted page) attaches the card, creates and pays the subscription, and
fires ``checkout.session.completed`` after the subscription's own events. A declined card
leaves the session open, as the hosted page lets the customer try another card.
"""

from __future__ import annotations

from typing import Any

from stripe.params.checkout import (
    SessionCreateParams,
    SessionExpireParams,
    SessionListParams,
    SessionRetrieveParams,
)

from devstack.stripe_standin import discounts, ids, invoicing, listing, metered_billing
from devstack.stripe_standin.api_errors import card_error, invalid_request, parameter_missing
from devstack.stripe_standin.resources import subscriptions
from devstack.stripe_standin.resources.common import get_or_404, get_param_object
from devstack.stripe_standin.resources.subscriptions import metered_quantity
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.state import AUTOMATIC, State
from devstack.stripe_standin.supports import Supports
from devstack.stripe_standin.testmode_cards import AUTHENTICATION_FAILURE, charge_outcome

JSONDict = dict[str, Any]

SESSION_LIFETIME = 24 * 3600
_CREATE_IMPLEMENTED = frozenset(
    {
        "mode",
        "customer",
        "line_items",
        "success_url",
        "cancel_url",
        "discounts",
        "allow_promotion_codes",
        "subscription_data",
        "metadata",
        "client_reference_id",
        "expand",
    }
)
_LIST_IMPLEMENTED = frozenset({"customer", "status", "limit", "starting_after", "expand"})


def _unimplemented(param: str) -> Exception:
    return invalid_request(
        f"The Stripe stand-in does not implement {param} on Checkout Sessions.", param=param
    )


def _session(session_id: str, params: JSONDict, now: int, base_url: str) -> JSONDict:
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": params.get("allow_promotion_codes"),
        "allowed_payment_method_types": None,
        "amount_subtotal": None,
        "amount_total": None,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": None,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": params["customer"],
        "customer_account": None,
        "customer_creation": None,
        "customer_details": None,
        "customer_email": None,
        "discounts": [],
        "expires_at": now + SESSION_LIFETIME,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": None,
        "managed_payments": None,
        "metadata": dict(params.get("metadata") or {}),
        "mode": "subscription",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": params["success_url"],
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{base_url}/_standin/checkout/sessions/{session_id}",
        "wallet_options": None,
    }


def _check_create(params: JSONDict) -> None:
    unknown = sorted(set(params) - _CREATE_IMPLEMENTED)
    if unknown:
        raise _unimplemented(unknown[0])
    for required in ("mode", "customer", "line_items", "success_url"):
        if required not in params:
            raise parameter_missing(required)
    if params["mode"] != "subscription":
        raise invalid_request(
            f"The Stripe stand-in implements only mode=subscription, not {params['mode']}.",
            param="mode",
        )
    if "discounts" in params and "allow_promotion_codes" in params:
        raise invalid_request(
            "You may only specify one of these parameters: allow_promotion_codes, discounts."
        )
    data = params.get("subscription_data") or {}
    extra = sorted(set(data) - {"metadata"})
    if extra:
        raise _unimplemented(f"subscription_data[{extra[0]}]")


def _amounts(
    state: State, session: JSONDict, lines: list[JSONDict], promos: list[JSONDict]
) -> None:
    """What the hosted page will charge: the prices, less the discounts."""
    invoice_lines: list[JSONDict] = [
        {
            "id": f"line{index}",
            "amount": 0 if quantity is None else int(price["unit_amount"]) * quantity,
            "discountable": True,
            "discount_amounts": [],
            "pricing": {"price_details": {"product": price["product"]}},
        }
        for index, (price, quantity) in enumerate(
            (line["price"], line["quantity"]) for line in lines
        )
    ]
    draft: JSONDict = {"created": state.now(), "lines": {"data": invoice_lines}}
    discounts.apply(state, draft, discounts.preview_discounts(state, promos, session["customer"]))
    off = sum(entry["amount"] for entry in draft["total_discount_amounts"])
    session.update(
        {
            "amount_subtotal": draft["subtotal"],
            "amount_total": draft["total"],
            "currency": lines[0]["price"]["currency"],
        }
    )
    session["total_details"]["amount_discount"] = off


def create(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    _check_create(params)
    customer = get_param_object(state, "customers", "customer", params["customer"], "customer")
    lines: list[JSONDict] = []
    for index, entry in enumerate(params["line_items"]):
        extra = sorted(set(entry) - {"price", "quantity"})
        if extra:
            raise _unimplemented(f"line_items[{index}][{extra[0]}]")
        if "price" not in entry:
            raise parameter_missing(f"line_items[{index}][price]")
        param = f"line_items[{index}][price]"
        price = get_param_object(state, "prices", "price", entry["price"], param)
        if price["type"] != "recurring" or not price["active"]:
            raise invalid_request(
                "In subscription mode, each line item needs an active recurring price.",
                param=param,
            )
        if metered_billing.is_metered(price):
            # Billed from its meter at the period's end: no quantity, nothing due now.
            if "quantity" in entry:
                raise metered_quantity(f"line_items[{index}]")
            lines.append({"price": price, "quantity": None})
            continue
        lines.append({"price": price, "quantity": int(entry.get("quantity", 1))})
    promos = discounts.promotion_codes_of(
        state,
        params.get("discounts", ""),
        customer["id"],
        lines[0]["price"]["currency"],
        amount=sum(
            int(line["price"]["unit_amount"]) * line["quantity"]
            for line in lines
            if line["quantity"] is not None
        ),
    )
    session = _session(ids.new_id("cs_test"), params, state.now(), ctx.base_url)
    session["discounts"] = [{"coupon": None, "promotion_code": p["id"]} for p in promos]
    _amounts(state, session, lines, promos)
    state.data.checkout_sessions[session["id"]] = session
    state.data.checkout_lines[session["id"]] = [
        {"price": line["price"]["id"]}
        | ({} if line["quantity"] is None else {"quantity": line["quantity"]})
        for line in lines
    ]
    state.data.checkout_subscription_metadata[session["id"]] = dict(
        (params.get("subscription_data") or {}).get("metadata") or {}
    )
    return ctx.render(session, params)


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(_fresh(ctx.state, path["session"]), params)


def _fresh(state: State, session_id: str) -> JSONDict:
    session = get_or_404(state, "checkout_sessions", "checkout.session", session_id)
    if session["status"] == "open" and int(session["expires_at"]) <= state.now():
        _expired_by_time(state, session)
    return session


def _expired_by_time(state: State, session: JSONDict) -> None:
    """A session not completed by ``expires_at`` expires, and Stripe sends
    ``checkout.session.expired`` ("Occurs when a Checkout Session is expired",
    https://docs.stripe.com/api/events/types), not only when it is expired through the API."""
    session.update({"status": "expired", "url": None})
    state.emit("checkout.session.expired", session, AUTOMATIC)


def expire_due(state: State) -> list[JSONDict]:
    """Every open session past its ``expires_at`` (run when the clock moves)."""
    done = []
    now = state.now()
    for session in state.data.checkout_sessions.values():
        if session["status"] == "open" and int(session["expires_at"]) <= now:
            _expired_by_time(state, session)
            done.append({"action": "expire_checkout_session", "checkout_session": session["id"]})
    return done


def list_sessions(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    unknown = sorted(set(params) - _LIST_IMPLEMENTED)
    if unknown:
        raise _unimplemented(unknown[0])
    state = ctx.state
    found = [
        _fresh(state, s["id"])
        for s in listing.newest_first(state.data.checkout_sessions.values())
        if "customer" not in params or s["customer"] == params["customer"]
    ]
    found = [s for s in found if "status" not in params or s["status"] == params["status"]]
    return ctx.render(listing.paginate(found, params, "/v1/checkout/sessions"), params)


def expire(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    session = _fresh(ctx.state, path["session"])
    if session["status"] != "open":
        raise invalid_request(
            f"Only Checkout Sessions with a status of `open` can be expired; this one is "
            f"{session['status']}."
        )
    session.update({"status": "expired", "url": None})
    ctx.state.emit("checkout.session.expired", session, ctx.origin)
    return ctx.render(session, params)


def complete(ctx: ApiContext, session_id: str, card: str, authenticate: bool) -> JSONDict:
    """The customer pays on the hosted page with ``card`` (a ``pm_card_*`` test card)."""
    state = ctx.state
    session = _fresh(state, session_id)
    if session["status"] != "open":
        raise invalid_request(f"This Checkout Session is {session['status']}, not open.")
    customer_id = session["customer"]
    pm = invoicing.resolve_payment_method(state, card, ctx.test_card_ids, param="payment_method")
    if pm["customer"] not in (None, customer_id):
        raise invalid_request("This card belongs to another customer.", param="payment_method")
    info = state.data.pm_info[pm["id"]]
    outcome, decline = charge_outcome(info.profile, set_up=info.set_up)
    if outcome == "declined" and decline is not None:
        raise card_error(decline.code, decline.message, decline_code=decline.decline_code)
    if outcome == "requires_action" and not authenticate:
        failure = AUTHENTICATION_FAILURE
        raise card_error(failure.code, failure.message)
    invoicing.attach_payment_method(state, pm, customer_id, ctx.origin)
    params: JSONDict = {
        "customer": customer_id,
        "items": state.data.checkout_lines[session_id],
        "default_payment_method": pm["id"],
        "payment_behavior": "allow_incomplete",
        "metadata": state.data.checkout_subscription_metadata[session_id],
    }
    if session["discounts"]:
        params["discounts"] = [
            {"promotion_code": d["promotion_code"]} for d in session["discounts"]
        ]
    sub = state.data.subscriptions[subscriptions.create(ctx, {}, params)["id"]]
    invoice = state.data.invoices[sub["latest_invoice"]]
    pi = invoicing.invoice_payment_intent(state, invoice)
    if pi is not None and pi["status"] == "requires_action":
        invoicing.complete_authentication(state, pi, True, ctx.origin)
    customer = state.data.customers[customer_id]
    session.update(
        {
            "status": "complete",
            "payment_status": "paid",
            "subscription": sub["id"],
            "invoice": invoice["id"],
            "url": None,
            "customer_details": {
                "address": customer["address"],
                "business_name": customer.get("business_name"),
                "email": customer["email"],
                "individual_name": customer.get("individual_name"),
                "name": customer["name"],
                "phone": customer["phone"],
                "tax_exempt": customer["tax_exempt"],
                "tax_ids": [],
            },
        }
    )
    state.emit("checkout.session.completed", session, ctx.origin)
    return session


ROUTES = [
    route(
        "POST", "/v1/checkout/sessions", create, SessionCreateParams, Supports(*_CREATE_IMPLEMENTED)
    ),
    route(
        "GET",
        "/v1/checkout/sessions",
        list_sessions,
        SessionListParams,
        Supports(*_LIST_IMPLEMENTED),
    ),
    route("GET", "/v1/checkout/sessions/{session}", retrieve, SessionRetrieveParams, Supports()),
    route(
        "POST", "/v1/checkout/sessions/{session}/expire", expire, SessionExpireParams, Supports()
    ),
]
