"""Subscriptions: create, retrieve, update, list, cancel."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    SubscriptionCancelParams,
    SubscriptionCreateParams,
    SubscriptionListParams,
    SubscriptionRetrieveParams,
    SubscriptionUpdateParams,
)

from devstack.stripe_standin import (
    contention,
    discounts,
    ids,
    invoicing,
    listing,
    metered_billing,
    objects,
    periods,
    schedules,
    subscription_updates,
)
from devstack.stripe_standin.api_errors import (
    card_error,
    invalid_request,
    parameter_missing,
    resource_missing,
)
from devstack.stripe_standin.periods import DAY
from devstack.stripe_standin.resources import setup_intents
from devstack.stripe_standin.resources.common import (
    LIST_PAGING,
    get_or_404,
    get_param_object,
    merge_metadata,
    unset_or,
)
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.state import State, SubscriptionBookkeeping, snapshot
from devstack.stripe_standin.supports import Supports
from devstack.stripe_standin.testmode_cards import charge_outcome

JSONDict = dict[str, Any]

# Implemented on both create and update.
_COMMON = (
    "metadata",
    "description",
    "default_payment_method",
    "cancel_at_period_end",
    "payment_settings.save_default_payment_method",
    "payment_settings.payment_method_types",
)
_CREATE = Supports(
    *_COMMON,
    "customer",
    "items[].price",
    "items[].quantity",
    "items[].metadata",
    # pending_if_incomplete exists only on update; charge_automatically is the one collection.
    "payment_behavior=allow_incomplete|default_incomplete|error_if_incomplete",
    "collection_method=charge_automatically",
    "trial_period_days",
    "trial_end",
    "trial_settings.end_behavior.missing_payment_method",
    "discounts[].promotion_code",
)
# Item (price) changes come with payment_behavior=pending_if_incomplete and are billed at once
# or not at all (subscription_updates.check_params refuses the other combinations by name);
# no pauses or scheduled cancels (cancel_at) yet.
_UPDATE = Supports(
    *_COMMON,
    "cancellation_details.comment",
    "cancellation_details.feedback",
    "items[].id",
    "items[].price",
    "proration_behavior=always_invoice|none",
    "proration_date",
    "payment_behavior=pending_if_incomplete",
    "discounts[].promotion_code",
)
_CANCEL = Supports("cancellation_details.comment", "cancellation_details.feedback")
_LIST = Supports("customer", "status", "price", *LIST_PAGING)
_REQUIRES_ACTION = (
    "Payment for this subscription requires additional user action before it can be completed "
    "successfully. Payment can be completed using the PaymentIntent associated with "
    "`subscription.latest_invoice`. Additional information is available here: "
    "https://docs.stripe.com/billing/subscriptions/overview#requires-action"
)
_NO_PAYMENT_METHOD = (
    "This customer has no attached payment source or default payment method. Please consider "
    "adding a default payment method. For more information, visit "
    "https://docs.stripe.com/billing/subscriptions/payment-methods-setting"
    "#payment-method-priority."
)


def metered_quantity(where: str) -> Exception:
    """A metered price takes no quantity: "You can only specify a quantity when creating a
    subscription with a recurring[usage_type] of licensed"
    (https://docs.stripe.com/billing/subscriptions/quantities#multiple-quantities-sub); the
    wording is Checkout's (invertase/stripe-firebase-extensions#134)."""
    return invalid_request(
        "Quantity should not be specified where usage_type is `metered`. "
        f"Remove quantity from `{where}`.",
        param=f"{where}[quantity]",
    )


def _prices(state: State, items: list[JSONDict]) -> list[tuple[JSONDict, int, JSONDict]]:
    chosen: list[tuple[JSONDict, int, JSONDict]] = []
    for index, item in enumerate(items):
        param = f"items[{index}][price]"
        price_id = item.get("price")
        if price_id is None:
            raise parameter_missing(param)
        price = get_param_object(state, "prices", "price", price_id, param)
        if not price["active"]:
            raise invalid_request(
                "The price specified is inactive. This field only accepts active prices.",
                param=param,
            )
        if price["type"] != "recurring":
            raise invalid_request(
                "The price specified is set to `type=one_time` but this field only accepts "
                "prices with `type=recurring`.",
                param=param,
            )
        if any(existing["id"] == price["id"] for existing, _, _ in chosen):
            raise invalid_request(
                f"Cannot add multiple subscription items with the same price: {price['id']}",
                param="items",
            )
        if metered_billing.is_metered(price) and "quantity" in item:
            raise metered_quantity(f"items[{index}]")
        chosen.append((price, int(item.get("quantity", 1)), item))
    first = chosen[0][0]
    for price, _, _ in chosen[1:]:
        if price["currency"] != first["currency"]:
            raise invalid_request(
                "All prices on a subscription must have the same currency.", param="items"
            )
        if price["recurring"]["interval"] != first["recurring"]["interval"] or (
            price["recurring"]["interval_count"] != first["recurring"]["interval_count"]
        ):
            raise invalid_request(
                "Currently all items on a subscription must have the same billing interval.",
                param="items",
            )
    return chosen


def _trial_end(params: JSONDict, now: int) -> int | None:
    if "trial_end" in params:
        trial_end = params["trial_end"]
        if trial_end == "now":
            return None
        if int(trial_end) <= now:
            raise invalid_request(
                "Invalid timestamp: must be an integer Unix timestamp in the future.",
                param="trial_end",
            )
        return int(trial_end)
    days = params.get("trial_period_days")
    if days:
        return now + int(days) * DAY
    return None


def create(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    if "customer" not in params:
        raise parameter_missing("customer")
    customer = get_param_object(state, "customers", "customer", params["customer"], "customer")
    if not params.get("items"):
        raise parameter_missing("items")
    behavior = params.get("payment_behavior", "allow_incomplete")
    chosen = _prices(state, params["items"])
    default_pm = None
    if params.get("default_payment_method"):
        default_pm = invoicing.require_attached(
            state,
            params["default_payment_method"],
            customer["id"],
            ctx.test_card_ids,
            param="default_payment_method",
        )
    now = state.now()
    trial_end = _trial_end(params, now)
    charge_pm = default_pm
    if charge_pm is None and customer["invoice_settings"]["default_payment_method"]:
        charge_pm = state.data.payment_methods[
            customer["invoice_settings"]["default_payment_method"]
        ]
    amount = sum(
        int(price["unit_amount"]) * quantity
        for price, quantity, _ in chosen
        if not metered_billing.is_metered(price)  # billed in arrears, from its meter
    )
    promos = discounts.promotion_codes_of(
        state,
        params.get("discounts", ""),
        customer["id"],
        chosen[0][0]["currency"],
        amount=0 if trial_end is not None else amount,
    )
    charges_now = trial_end is None and amount > 0 and behavior != "default_incomplete"
    if charges_now and charge_pm is None:
        raise invalid_request(_NO_PAYMENT_METHOD)
    if charges_now and charge_pm is not None and behavior == "error_if_incomplete":
        info = state.data.pm_info[charge_pm["id"]]
        outcome, decline = charge_outcome(info.profile, set_up=info.set_up)
        if outcome == "declined" and decline is not None:
            # The subscription is not created when its first payment fails.
            raise card_error(decline.code, decline.message, decline_code=decline.decline_code)

    first_price = chosen[0][0]
    sub = objects.subscription(ids.new_id("sub"), customer["id"], first_price["currency"], now)
    interval = first_price["recurring"]["interval"]
    count = int(first_price["recurring"]["interval_count"])
    if trial_end is not None:
        sub.update(
            {
                "status": "trialing",
                "trial_start": now,
                "trial_end": trial_end,
                "billing_cycle_anchor": trial_end,
            }
        )
        period_end = trial_end
    else:
        period_end = periods.next_period_end(now, interval, count, now)
    items = []
    for price, quantity, item_params in chosen:
        item = objects.subscription_item(
            ids.new_id("si"), sub["id"], snapshot(price), quantity, now, period_end, now
        )
        if "metadata" in item_params:
            item["metadata"] = merge_metadata({}, item_params["metadata"])
        items.append(item)
    sub["items"]["data"] = items
    sub["items"]["total_count"] = len(items)
    _apply_common(sub, params)
    sub["discounts"] = discounts.redeem(state, promos, customer["id"], sub["id"])
    if default_pm is not None:
        sub["default_payment_method"] = default_pm["id"]
    if params.get("cancel_at_period_end"):
        _set_cancel_at_period_end(sub, True, now)
    state.data.subscriptions[sub["id"]] = sub
    state.data.sub_info[sub["id"]] = SubscriptionBookkeeping(payment_behavior=behavior)
    created_event = state.emit("customer.subscription.created", sub, ctx.origin)

    requires_action = False
    if trial_end is not None:
        invoice = invoicing.create_invoice(
            state, sub, "subscription_create", now, now, ctx.origin, trial=True
        )
        invoicing.finalize_invoice(state, invoice, sub, ctx.origin)
        if behavior == "default_incomplete":
            _pending_setup_intent(state, sub, ctx)
    else:
        invoice = invoicing.create_invoice(state, sub, "subscription_create", now, now, ctx.origin)
        invoicing.finalize_invoice(state, invoice, sub, ctx.origin)
        pi = invoicing.invoice_payment_intent(state, invoice)
        if invoice["status"] == "paid":
            # Nothing was due at once (a 100 % code, or the customer's credit balance paid it):
            # like a trial, the card for later invoices is collected by a SetupIntent.
            sub["status"] = "active"
            if behavior == "default_incomplete":
                _pending_setup_intent(state, sub, ctx)
        elif behavior == "default_incomplete":
            if pi is not None and charge_pm is not None:
                pi["payment_method"] = charge_pm["id"]
                pi["status"] = "requires_confirmation"
        elif charge_pm is not None:
            result = invoicing.pay_invoice(
                state, invoice, charge_pm, ctx.origin, quiet_subscription=True
            )
            requires_action = result.outcome == "requires_action"
    created_event["data"]["object"] = snapshot(sub)
    if requires_action and behavior == "error_if_incomplete":
        pi = invoicing.invoice_payment_intent(state, invoice)
        extra = {"payment_intent": snapshot(pi)} if pi is not None else {}
        raise card_error(
            "subscription_payment_intent_requires_action", _REQUIRES_ACTION, extra=extra
        )
    return ctx.render(sub, params)


def _pending_setup_intent(state: State, sub: JSONDict, ctx: ApiContext) -> None:
    """Whenever a subscription starts with nothing to pay at once (a trial, a 100 % discount,
    a credit balance), ``default_incomplete`` gives it a SetupIntent to "collect user
    authentication when creating a subscription without immediate payment" (the
    ``pending_setup_intent`` reference, stripe-python's Subscription). Such a subscription is
    ``active`` at once with no PaymentIntent on its paid invoice
    (https://github.com/stripe-samples/subscription-use-cases/issues/525: a credit balance or
    a 100 % coupon; https://github.com/mozilla/fxa/pull/20530 confirms the pending one)."""
    si = setup_intents.new_setup_intent(
        state,
        sub["customer"],
        ctx.origin,
        payment_method_types=sub["payment_settings"]["payment_method_types"],
    )
    state.data.si_subscription[si["id"]] = sub["id"]
    sub["pending_setup_intent"] = si["id"]


def _apply_common(sub: JSONDict, params: JSONDict) -> None:
    if "metadata" in params:
        sub["metadata"] = merge_metadata(sub["metadata"], params["metadata"])
    if "description" in params:
        sub["description"] = unset_or(params["description"])
    settings = params.get("payment_settings") or {}
    if "save_default_payment_method" in settings:
        sub["payment_settings"]["save_default_payment_method"] = settings[
            "save_default_payment_method"
        ]
    if "payment_method_types" in settings:
        sub["payment_settings"]["payment_method_types"] = unset_or(settings["payment_method_types"])
    trial_settings = params.get("trial_settings") or {}
    end_behavior = trial_settings.get("end_behavior") or {}
    if "missing_payment_method" in end_behavior:
        sub["trial_settings"]["end_behavior"]["missing_payment_method"] = end_behavior[
            "missing_payment_method"
        ]


def _current_period_end(sub: JSONDict) -> int:
    return min(int(item["current_period_end"]) for item in sub["items"]["data"])


def _set_cancel_at_period_end(sub: JSONDict, value: bool, now: int) -> None:
    sub["cancel_at_period_end"] = value
    if value:
        sub["cancel_at"] = _current_period_end(sub)
        sub["canceled_at"] = now
        sub["cancellation_details"]["reason"] = "cancellation_requested"
    else:
        sub["cancel_at"] = None
        sub["canceled_at"] = None
        sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    sub = get_or_404(ctx.state, "subscriptions", "subscription", path["subscription"])
    return ctx.render(sub, params)


def update(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    sub = get_or_404(state, "subscriptions", "subscription", path["subscription"])
    if sub["status"] in ("canceled", "incomplete_expired"):
        allowed = {"cancellation_details", "metadata", "expand"}
        if set(params) - allowed:
            raise invalid_request(
                "A canceled subscription can only update its cancellation_details and metadata."
            )
    if sub["schedule"] is not None:
        if "cancel_at_period_end" in params:
            raise schedules.managed_cancel_refusal(sub["schedule"])
        if "items" in params:
            raise invalid_request(
                "The Stripe stand-in does not implement changing the items of a subscription "
                f"a schedule manages (`{sub['schedule']}`): release the schedule first.",
                param="items",
                code="parameter_unsupported_by_standin",
            )
    if "items" in params:
        if state.invoice_limits and params.get("proration_behavior") == "always_invoice":
            # Before anything changes: the change would invoice at once (contention.py).
            contention.check_invoice_limits(
                (
                    int(invoice["created"])
                    for invoice in state.data.invoices.values()
                    if invoicing.subscription_of_invoice(state, invoice) is sub
                ),
                state.now(),
            )
        subscription_updates.change(state, sub, params, ctx.origin)
        return ctx.render(sub, params)
    for param in ("discounts", "proration_date", "payment_behavior", "proration_behavior"):
        if param in params:
            raise invalid_request(
                f"The Stripe stand-in does not support {param} on updates without items "
                "(it implements it only for item changes).",
                param=param,
            )
    new_default = None
    if params.get("default_payment_method"):
        new_default = invoicing.require_attached(
            state,
            params["default_payment_method"],
            sub["customer"],
            ctx.test_card_ids,
            param="default_payment_method",
        )["id"]
    before = snapshot(sub)
    _apply_common(sub, params)
    if "default_payment_method" in params:
        sub["default_payment_method"] = new_default
    if "cancel_at_period_end" in params:
        _set_cancel_at_period_end(sub, bool(params["cancel_at_period_end"]), state.now())
    details = params.get("cancellation_details") or {}
    for field in ("comment", "feedback"):
        if field in details:
            sub["cancellation_details"][field] = unset_or(details[field])
    state.emit_update("customer.subscription.updated", sub, before, ctx.origin)
    return ctx.render(sub, params)


def cancel(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    sub = get_or_404(state, "subscriptions", "subscription", path["subscription"])
    if sub["status"] in ("canceled", "incomplete_expired"):
        # Stripe treats a canceled subscription as deleted for this call.
        raise resource_missing("subscription", sub["id"])
    if sub["schedule"] is not None:
        raise invalid_request(
            "The Stripe stand-in does not implement canceling a subscription a schedule "
            f"manages (`{sub['schedule']}`): release the schedule first.",
            code="parameter_unsupported_by_standin",
        )
    details = params.get("cancellation_details") or {}
    for field in ("comment", "feedback"):
        if field in details:
            sub["cancellation_details"][field] = unset_or(details[field])
    now = state.now()
    sub["canceled_at"] = now
    sub["cancellation_details"]["reason"] = "cancellation_requested"
    invoicing.cancel_subscription(state, sub, ctx.origin, at=now)
    return ctx.render(sub, params)


_DEFAULT_HIDDEN = {"canceled"}
_ENDED = {"canceled", "incomplete_expired"}


def list_subscriptions(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    status = params.get("status")

    def status_matches(sub: JSONDict) -> bool:
        if status is None:
            return sub["status"] not in _DEFAULT_HIDDEN
        if status == "all":
            return True
        if status == "ended":
            return sub["status"] in _ENDED
        return bool(sub["status"] == status)

    def matches(sub: JSONDict) -> bool:
        price = params.get("price")
        return (
            status_matches(sub)
            and ("customer" not in params or sub["customer"] == params["customer"])
            and (price is None or any(i["price"]["id"] == price for i in sub["items"]["data"]))
            and listing.created_matches(sub, params.get("created"))
        )

    matching = [
        s for s in listing.newest_first(ctx.state.data.subscriptions.values()) if matches(s)
    ]
    return ctx.render(listing.paginate(matching, params, "/v1/subscriptions"), params)


ROUTES = [
    route("POST", "/v1/subscriptions", create, SubscriptionCreateParams, _CREATE),
    route("GET", "/v1/subscriptions", list_subscriptions, SubscriptionListParams, _LIST),
    route(
        "GET", "/v1/subscriptions/{subscription}", retrieve, SubscriptionRetrieveParams, Supports()
    ),
    route("POST", "/v1/subscriptions/{subscription}", update, SubscriptionUpdateParams, _UPDATE),
    route("DELETE", "/v1/subscriptions/{subscription}", cancel, SubscriptionCancelParams, _CANCEL),
]
