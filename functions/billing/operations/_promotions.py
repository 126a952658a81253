"""Promotion codes: the code a customer types, found and checked before Stripe applies it.

Shared by create_subscription, the plan change operations and Checkout. A code that does not
exist, is inactive or expired, is meant for another customer, is used up, or does not apply
to the chosen plan answers 400 ``promotion_code_invalid`` naming the field, so the customer
learns at once rather than seeing no discount later.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import stripe
from pydantic import Field, StringConstraints

from billing.context import Context, ResponseModel
from billing.errors import PROMOTION_CODE_INVALID, BadRequest
from billing.operations._ownership import id_of

log = logging.getLogger(__name__)

# Stripe's codes are letters, digits and dashes; underscores are accepted for test codes.
PromotionCodeText = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]


class DiscountSummary(ResponseModel):
    promotion_code: str = Field(description="The code, as Stripe spells it.")
    name: str | None = Field(description="The coupon's name, to show the customer.")
    percent_off: float | None
    amount_off: int | None = Field(description="In the currency's smallest unit (cents).")
    currency: str | None
    duration: str = Field(description="once, repeating (duration_in_months) or forever")
    duration_in_months: int | None


@dataclass(frozen=True)
class Promotion:
    promotion_code_id: str
    code: str
    coupon: stripe.Coupon

    @property
    def discounts(self) -> list[dict[str, str]]:
        """The ``discounts`` parameter that redeems this code."""
        return [{"promotion_code": self.promotion_code_id}]

    def summary(self) -> DiscountSummary:
        return DiscountSummary(
            promotion_code=self.code,
            name=self.coupon.name,
            percent_off=self.coupon.percent_off,
            amount_off=self.coupon.amount_off,
            currency=self.coupon.currency,
            duration=self.coupon.duration,
            duration_in_months=self.coupon.duration_in_months,
        )


def _invalid(reason: str) -> BadRequest:
    return BadRequest(
        f"promotion_code: {reason}", code=PROMOTION_CODE_INVALID, field="promotion_code"
    )


def _coupon(promo: stripe.PromotionCode) -> stripe.Coupon:
    coupon = promo.promotion.coupon
    if not isinstance(coupon, stripe.Coupon):
        raise _invalid("this code is not a discount.")
    return coupon


# A first_time_transaction code is for "Customers without any successful payments or
# invoices" (https://docs.stripe.com/api/promotion_codes/object); Stripe counts an open invoice
# of an unpaid checkout (https://github.com/stripe/stripe-node/issues/2349) and a trial's $0
# paid invoice (https://github.com/dubinc/docs/pull/447). Stripe checks it, and minimum_amount,
# only when the code is redeemed, after create-subscription would have ended the customer's
# unfinished checkout; checked here, a refused code changes nothing.
_TRANSACTIONS = ("open", "paid", "uncollectible")


def _has_prior_transactions(client: stripe.StripeClient, customer: str) -> bool:
    found = client.v1.invoices.list(params={"customer": customer, "limit": 100})
    if any(invoice.status in _TRANSACTIONS for invoice in found.data):
        return True
    # Over 100 invoices, all drafts or void, is not a first purchase either way: refusing is
    # the side that never lets Stripe refuse the code after something was changed.
    return bool(found.has_more)


def _check_restrictions(
    client: stripe.StripeClient,
    promo: stripe.PromotionCode,
    *,
    customer: str,
    price: Callable[[], stripe.Price],
    trial: bool,
) -> None:
    restrictions = promo.restrictions
    if restrictions.first_time_transaction and _has_prior_transactions(client, customer):
        raise _invalid("this code is only for a first purchase.")
    minimum = restrictions.minimum_amount
    if minimum is None:
        return
    chosen = price()
    # What the purchase bills first, before discounts; a trial's first invoice is $0.
    amount = 0 if trial else (chosen.unit_amount or 0)
    if restrictions.minimum_amount_currency != chosen.currency or amount < minimum:
        raise _invalid("this plan's price is below this code's minimum amount.")


def find_promotion(
    ctx: Context, code: str, *, customer: str, price_id: str, trial: bool = False
) -> Promotion:
    """The active promotion code ``code`` if the caller may use it on ``price_id`` (``trial``:
    the purchase starts with a trial, so it bills nothing at first)."""
    client = ctx.runtime.stripe
    found = client.v1.promotion_codes.list(
        params={
            "code": code,
            "active": True,
            "limit": 10,
            "expand": ["data.promotion.coupon.applies_to"],
        }
    )
    same = [promo for promo in found.data if promo.code.lower() == code.lower()]
    if not same:
        raise _invalid("there is no such code, or it is no longer active.")
    # A code may exist once for everyone and once more for one customer: theirs first.
    mine = [promo for promo in same if id_of(promo.customer) in (None, customer)]
    if not mine:
        raise _invalid("this code is not available to you.")
    promo = min(mine, key=lambda p: p.customer is None)
    coupon = _coupon(promo)
    if (promo.expires_at is not None and promo.expires_at <= time.time()) or not coupon.valid:
        raise _invalid("this code has expired.")
    if promo.max_redemptions is not None and promo.times_redeemed >= promo.max_redemptions:
        raise _invalid("this code has been used up.")
    price = functools.cache(lambda: client.v1.prices.retrieve(price_id))
    # applies_to is only in the answer because it was expanded; an empty list means anything.
    products = coupon.applies_to.products if "applies_to" in coupon and coupon.applies_to else []
    if products and id_of(price().product) not in products:
        raise _invalid("this code does not apply to this plan.")
    _check_restrictions(client, promo, customer=customer, price=price, trial=trial)
    return Promotion(promo.id, promo.code, coupon)


def maybe_find(
    ctx: Context, code: str | None, *, customer: str, price_id: str, trial: bool = False
) -> Promotion | None:
    if code is None:
        return None
    return find_promotion(ctx, code, customer=customer, price_id=price_id, trial=trial)


def promotion_refused(exc: stripe.InvalidRequestError) -> BadRequest:
    log.warning(
        "stripe refused a promotion code",
        extra={"stripe_message": exc.user_message, "stripe_request_id": exc.request_id},
    )
    return _invalid("this code cannot be used for this purchase.")


def is_promotion_refusal(exc: stripe.InvalidRequestError) -> bool:
    """Stripe refused a code named in ``discounts`` (a restriction it decided otherwise)."""
    return (exc.param or "").startswith("discounts")
