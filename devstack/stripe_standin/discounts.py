"""Coupons, promotion codes, and the discounts they become on subscriptions and invoices.

Seeded from the catalog and fixtures.json (seeding.py; the API to create them is not served).
What is modelled: ``percent_off`` and ``amount_off`` coupons, durations ``once`` /
``repeating`` / ``forever``, ``applies_to`` products, promotion codes that are active or not
and may expire, be limited to one customer or a number of redemptions. Subscription-level
discounts apply to an invoice's discountable lines. Proration lines are discounted too, the way
flexible billing mode with ``proration_discounts=included`` shows them (:func:`on_proration`).

All functions expect the caller to hold ``state.lock``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devstack.stripe_standin import ids
from devstack.stripe_standin.api_errors import invalid_request, resource_missing
from devstack.stripe_standin.periods import shift

if TYPE_CHECKING:
    from devstack.stripe_standin.state import State

JSONDict = dict[str, Any]


def coupon(entry: JSONDict, created: int) -> JSONDict:
    return {
        "id": entry["id"],
        "object": "coupon",
        "amount_off": entry.get("amount_off"),
        "created": created,
        "currency": entry.get("currency"),
        "duration": entry.get("duration", "once"),
        "duration_in_months": entry.get("duration_in_months"),
        "livemode": False,
        "max_redemptions": entry.get("max_redemptions"),
        "metadata": {},
        "name": entry.get("name"),
        "percent_off": entry.get("percent_off"),
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": entry.get("valid", True),
    }


def promotion_code(entry: JSONDict, created: int) -> JSONDict:
    expires_in = entry.get("expires_in")
    restrictions = entry.get("restrictions") or {}
    return {
        "id": entry["id"],
        "object": "promotion_code",
        "active": entry.get("active", True),
        "code": entry["code"],
        "created": created,
        "customer": entry.get("customer"),
        "customer_account": None,
        "expires_at": created + int(expires_in) if expires_in is not None else None,
        "livemode": False,
        "max_redemptions": entry.get("max_redemptions"),
        "metadata": {},
        "promotion": {"coupon": entry["coupon"], "type": "coupon"},
        "restrictions": {
            "first_time_transaction": bool(restrictions.get("first_time_transaction", False)),
            "minimum_amount": restrictions.get("minimum_amount"),
            "minimum_amount_currency": restrictions.get("minimum_amount_currency"),
        },
        "times_redeemed": int(entry.get("times_redeemed", 0)),  # a code redeemed before the catalog
    }


def discount(
    state: State, promo: JSONDict, customer_id: str, subscription_id: str | None, now: int
) -> JSONDict:
    coupon_obj = state.data.coupons[promo["promotion"]["coupon"]]
    end = None
    if coupon_obj["duration"] == "repeating":
        end = shift(now, "month", int(coupon_obj["duration_in_months"] or 1), 1)
    return {
        "id": ids.new_id("di"),
        "object": "discount",
        "checkout_session": None,
        "customer": customer_id,
        "customer_account": None,
        "end": end,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": promo["id"],
        "source": {"coupon": coupon_obj["id"], "type": "coupon"},
        "start": now,
        "subscription": subscription_id,
        "subscription_item": None,
    }


def load_catalog(state: State, catalog: JSONDict) -> None:
    now = state.now()
    for entry in catalog.get("coupons", []):
        state.data.coupons[entry["id"]] = coupon(entry, now)
        if entry.get("applies_to"):
            state.data.coupon_applies_to[entry["id"]] = list(entry["applies_to"])
    for entry in catalog.get("promotion_codes", []):
        state.data.promotion_codes[entry["id"]] = promotion_code(entry, now)


# --- redeeming ------------------------------------------------------------------------------


# A customer's "prior transactions" for a first_time_transaction code: Stripe's reference says
# "only be redeemed for Customers without any successful payments or invoices"
# (https://docs.stripe.com/api/promotion_codes/object#promotion_code_object-restrictions-first_time_transaction).
# In practice an open invoice of an unpaid incomplete subscription already counts (Stripe's
# answer in https://github.com/stripe/stripe-node/issues/2349), and so do a trial's and any
# other $0 paid invoice (https://github.com/dubinc/docs/pull/447). Drafts and voided invoices
# are not counted here (https://github.com/useautumn/autumn/pull/1914 reads Stripe so).
TRANSACTION_STATUSES = frozenset({"open", "paid", "uncollectible"})
FIRST_TIME_REFUSED = (
    "This promotion code cannot be redeemed because the associated customer has prior transactions."
)


def has_prior_transactions(state: State, customer_id: str) -> bool:
    return any(
        invoice["customer"] == customer_id and invoice["status"] in TRANSACTION_STATUSES
        for invoice in state.data.invoices.values()
    )


def _restriction_problem(
    state: State, promo: JSONDict, customer_id: str, currency: str, amount: int | None
) -> str | None:
    """Stripe enforces a code's restrictions when it is redeemed into a discount."""
    restrictions = promo["restrictions"]
    if restrictions["first_time_transaction"] and has_prior_transactions(state, customer_id):
        return FIRST_TIME_REFUSED
    minimum = restrictions["minimum_amount"]
    if minimum is not None:
        # "Minimum amount required to redeem this Promotion Code into a Coupon (e.g., a
        # purchase must be $100 or more to work)" (the same reference). The amount is what the
        # purchase bills first, before discounts: a trial's first invoice is $0.
        if amount is None:
            raise invalid_request(
                "The Stripe stand-in does not implement minimum_amount codes here.",
                param="discounts",
            )
        if restrictions["minimum_amount_currency"] != currency or amount < int(minimum):
            return (
                "This promotion code cannot be redeemed because the amount is below its "
                f"minimum of {minimum} {restrictions['minimum_amount_currency']}."
            )
    return None


def _checked_promotion_code(
    state: State,
    promo_id: str,
    customer_id: str,
    currency: str,
    param: str,
    amount: int | None = None,
) -> JSONDict:
    promo = state.data.promotion_codes.get(promo_id)
    if promo is None:
        raise resource_missing("promotion_code", promo_id, param=param)
    coupon_obj = state.data.coupons[promo["promotion"]["coupon"]]
    now = state.now()
    problem = None
    if not promo["active"]:
        problem = "This promotion code is inactive."
    elif promo["expires_at"] is not None and int(promo["expires_at"]) <= now:
        problem = "This promotion code has expired."
    elif promo["customer"] is not None and promo["customer"] != customer_id:
        problem = "This promotion code cannot be redeemed by this customer."
    elif (
        promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]
    ):
        problem = "This promotion code has been redeemed the maximum number of times."
    elif not coupon_obj["valid"]:
        problem = f"Coupon {coupon_obj['id']} is no longer valid."
    elif coupon_obj["amount_off"] is not None and coupon_obj["currency"] != currency:
        problem = f"Coupon {coupon_obj['id']} is in {coupon_obj['currency']}, not {currency}."
    else:
        problem = _restriction_problem(state, promo, customer_id, currency, amount)
    if problem is not None:
        raise invalid_request(problem, param=param)
    return promo


def promotion_codes_of(
    state: State,
    specs: Any,
    customer_id: str,
    currency: str,
    param: str = "discounts",
    *,
    amount: int | None = None,
) -> list[JSONDict]:
    """The promotion codes a ``discounts`` parameter names, each checked as Stripe does;
    ``amount``: what the purchase bills first before discounts (for ``minimum_amount``)."""
    if specs == "":
        return []
    found = []
    for index, spec in enumerate(specs):
        where = f"{param}[{index}]"
        others = sorted(set(spec) - {"promotion_code"})
        if others:
            raise invalid_request(
                f"The Stripe stand-in implements only {where}[promotion_code], not "
                f"{where}[{others[0]}].",
                param=f"{where}[{others[0]}]",
            )
        if "promotion_code" not in spec:
            raise invalid_request(f"Missing required param: {where}[promotion_code].", param=where)
        found.append(
            _checked_promotion_code(
                state,
                spec["promotion_code"],
                customer_id,
                currency,
                f"{where}[promotion_code]",
                amount,
            )
        )
    return found


def redeem(
    state: State, promos: list[JSONDict], customer_id: str, subscription_id: str | None
) -> list[str]:
    """Turn checked promotion codes into stored discounts (counting the redemptions)."""
    made = []
    for promo in promos:
        di = discount(state, promo, customer_id, subscription_id, state.now())
        state.data.discounts[di["id"]] = di
        promo["times_redeemed"] += 1
        state.data.coupons[di["source"]["coupon"]]["times_redeemed"] += 1
        made.append(di["id"])
    return made


def preview_discounts(state: State, promos: list[JSONDict], customer_id: str) -> list[JSONDict]:
    """Discounts as a preview shows them: built, never stored or counted."""
    return [discount(state, promo, customer_id, None, state.now()) for promo in promos]


# --- applying -------------------------------------------------------------------------------


def _eligible(state: State, coupon_id: str, line: JSONDict) -> bool:
    if not line["discountable"] or int(line["amount"]) <= 0:
        return False
    products = state.data.coupon_applies_to.get(coupon_id)
    return products is None or line["pricing"]["price_details"]["product"] in products


def apply(state: State, invoice: JSONDict, discounts: list[JSONDict]) -> None:
    """Discount ``invoice``'s lines and totals with ``discounts`` (in order)."""
    now = int(invoice["created"])
    active = [d for d in discounts if d["end"] is None or int(d["end"]) > now]
    lines = invoice["lines"]["data"]
    remaining = {line["id"]: int(line["amount"]) for line in lines}
    totals = []
    for di in active:
        coupon_obj = state.data.coupons[di["source"]["coupon"]]
        budget = coupon_obj["amount_off"]
        spent = 0
        for line in lines:
            if not _eligible(state, coupon_obj["id"], line):
                continue
            if coupon_obj["percent_off"] is not None:
                share = int(int(line["amount"]) * float(coupon_obj["percent_off"]) / 100 + 0.5)
            else:
                share = int(budget) - spent
            share = max(0, min(share, remaining[line["id"]]))
            remaining[line["id"]] -= share
            spent += share
            line["discount_amounts"] = [
                *line["discount_amounts"],
                {"amount": share, "discount": di["id"]},
            ]
        totals.append({"amount": spent, "discount": di["id"]})
    off = sum(entry["amount"] for entry in totals)
    subtotal = sum(int(line["amount"]) for line in lines)
    invoice.update(
        {
            "discounts": [di["id"] for di in active],
            "total_discount_amounts": totals,
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "total": subtotal - off,
            "total_excluding_tax": subtotal - off,
            "amount_due": max(0, subtotal - off),
            "amount_remaining": max(0, subtotal - off),
        }
    )


# --- prorations -----------------------------------------------------------------------------


def _applies(state: State, coupon_id: str, product: str) -> bool:
    products = state.data.coupon_applies_to.get(coupon_id)
    return products is None or product in products


def on_proration(
    state: State, discounts: list[JSONDict], product: str, period_amount: int, at: int
) -> tuple[int, list[str]]:
    """What a period of ``product`` at ``period_amount`` bills net of ``discounts`` (active at
    ``at``), and the ids of the discounts that reduced it.

    Flexible billing mode, the default for API-created subscriptions since 2025-09-30, discounts
    prorations; with ``proration_discounts=included`` (the default) "Proration Line Item
    amount: Net amount (after discounts)", the line's ``discount_amounts`` show subscription-level
    discounts with ``amount=0`` and the invoice's ``total_discount_amounts`` exclude them
    (https://docs.stripe.com/changelog/clover/2025-09-30/itemize-proration-discount-amounts).
    The caller prorates the net period amount, so an ``amount_off`` coupon is prorated with it,
    as credits in flexible mode are the prorated share of what was debited, net
    (https://docs.stripe.com/billing/subscriptions/billing-mode/compare, "Credit proration
    calculations").
    """
    remaining, used = period_amount, []
    for di in discounts:
        if di["end"] is not None and int(di["end"]) <= at:
            continue
        coupon_obj = state.data.coupons[di["source"]["coupon"]]
        if remaining <= 0 or not _applies(state, coupon_obj["id"], product):
            continue
        if coupon_obj["percent_off"] is not None:
            off = int(period_amount * float(coupon_obj["percent_off"]) / 100 + 0.5)
        else:
            off = int(coupon_obj["amount_off"])
        off = max(0, min(off, remaining))
        if off:
            remaining -= off
            used.append(di["id"])
    return remaining, used


def without_used_once(state: State, discount_ids: list[str], used: set[str]) -> list[str]:
    """A ``once`` discount that reduced a proration is used up by that invoice."""
    keep = []
    for di_id in discount_ids:
        di = state.data.discounts.get(di_id)
        coupon_id = di["source"]["coupon"] if di else None
        if di_id in used and coupon_id and state.data.coupons[coupon_id]["duration"] == "once":
            continue
        keep.append(di_id)
    return keep


def of_subscription(state: State, sub: JSONDict) -> list[JSONDict]:
    return [state.data.discounts[di] for di in sub["discounts"] if di in state.data.discounts]


def used_up(state: State, sub: JSONDict, invoice: JSONDict) -> None:
    """A ``once`` discount leaves the subscription after the first invoice it reduced."""
    reduced = {entry["discount"] for entry in invoice["total_discount_amounts"] if entry["amount"]}
    keep = []
    for di_id in sub["discounts"]:
        di = state.data.discounts.get(di_id)
        coupon_id = di["source"]["coupon"] if di else None
        if di_id in reduced and coupon_id and state.data.coupons[coupon_id]["duration"] == "once":
            continue
        keep.append(di_id)
    sub["discounts"] = keep
