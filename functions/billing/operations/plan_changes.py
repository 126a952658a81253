"""preview_plan_change and change_plan: switch a subscription to another price the app sells.

Policy, the same both ways: a change takes effect at once and bills the prorated difference at
once (``proration_behavior=always_invoice``). An upgrade charges the rest of the period on the
new plan less the unused rest of the old one. A downgrade never takes paid time away: the
unused rest of the dearer plan is credited, and a credit larger than the new plan's rest stays
on the customer's Stripe balance and pays the next invoices. One rule for both directions keeps
the preview and the charge one computation (Stripe's), and avoids a scheduled second change
that the app and the entitlement sync would have to track until period end.

A change of billing interval (monthly <-> yearly) is Stripe's, not a choice of ours: the billing
period restarts at the change, and the invoice made at once charges the whole new period less the
credit for the unused time on the old price ("If the prices have different billing periods, the
new price is billed at the new interval, starting on the day of the change", and "Stripe
immediately attempts payment ... when the billing period changes":
https://docs.stripe.com/billing/subscriptions/upgrade-downgrade). The preview reads the same
invoice, so it shows that charge and the new renewal date.

``payment_behavior=pending_if_incomplete``: if the charge is declined or needs 3-D Secure, the
plan does not change; Stripe keeps the change in ``pending_update`` and applies it when the
invoice is paid (``client_secret`` lets Stripe.js finish it), or drops it and voids that
invoice at the earliest of the period end, the trial end and 23 hours (``pending_until``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Literal

import stripe
from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.errors import (
    CHANGE_PENDING,
    INVALID_FIELD,
    SAME_PRICE,
    SUBSCRIPTION_ENDED,
    SUBSCRIPTION_NOT_ACTIVE,
    BadRequest,
    Conflict,
)
from billing.operations import _schedules
from billing.operations._ownership import (
    PriceId,
    SubscriptionId,
    customer_id,
    fetch_owned,
    id_of,
    require_offered,
)
from billing.operations._plan_items import change_items, is_metered, licensed_items
from billing.operations._promotions import (
    DiscountSummary,
    Promotion,
    PromotionCodeText,
    is_promotion_refusal,
    maybe_find,
    promotion_refused,
)
from billing.operations._views import SUBSCRIPTION_EXPAND, SubscriptionView, subscription_view
from billing.statuses import ENDED
from billing.stripe_api.schedule import scheduled_change
from billing.translate import decline

if TYPE_CHECKING:
    from stripe.params import InvoiceCreatePreviewParams, SubscriptionUpdateParams

log = logging.getLogger(__name__)

# A preview's proration_date is honoured for this long: long enough to read and confirm, too
# short to make an old quote (a larger credit for a downgrade) a way to pay less.
PREVIEW_LIFETIME_SECONDS = 30 * 60
CLOCK_SKEW_SECONDS = 60


class PreviewPlanChangeRequest(RequestModel):
    subscription_id: SubscriptionId
    price_id: PriceId
    promotion_code: PromotionCodeText | None = Field(
        default=None,
        description="A code the customer typed; it discounts the prorated charge of this change "
        "and, unless it is for the first invoice only, the invoices after it.",
    )


class ChangePlanRequest(PreviewPlanChangeRequest):
    proration_date: int | None = Field(
        default=None,
        ge=0,
        description="The proration_date preview-plan-change answered: the charge is then "
        "exactly what it showed. Honoured for 30 minutes; a date in the future or before the "
        "current period is refused.",
    )


class NextInvoice(ResponseModel):
    date: int = Field(
        description="Unix time the next regular invoice is made (after an interval change, "
        "one new interval from now)."
    )
    total: int = Field(description="Its total on the new plan, discounts included (cents).")
    discount_amount: int


class PlanChangePreview(ResponseModel):
    subscription_id: str
    current_price_id: str
    price_id: str
    currency: str
    proration_date: int = Field(description="Pass it to change-plan to be charged exactly this.")
    amount_due_now: int = Field(description="Charged at once (0 for a downgrade).")
    credit: int = Field(description="Credit for the unused time on the current plan.")
    charge: int = Field(
        description="The rest of the period on the new plan; when the billing interval "
        "changes (monthly <-> yearly), the whole first period of the new plan, which starts now."
    )
    total_now: int = Field(
        description="charge - credit; when negative, that credit stays on the account and pays "
        "the next invoices."
    )
    next_invoice: NextInvoice
    discount: DiscountSummary | None
    takes_effect: Literal["now", "period_end"] = Field(
        description="period_end: a downgrade under DOWNGRADE_POLICY=period_end; nothing is "
        "charged or credited now, the new plan starts at effective_at."
    )
    effective_at: int = Field(description="When the new plan starts (unix).")


class ChangePlanResponse(ResponseModel):
    status: Literal["changed", "scheduled", "requires_action", "payment_failed"] = Field(
        description="changed; scheduled: a downgrade that starts at effective_at, the period "
        "end (DOWNGRADE_POLICY=period_end), nothing charged now; requires_action: confirm "
        "client_secret with Stripe.js (3-D Secure); payment_failed: the card was declined, "
        "confirm client_secret with another card. Until then the plan stays as it was."
    )
    subscription: SubscriptionView
    invoice_id: str | None = Field(description="The invoice of the prorated difference.")
    amount_due: int
    client_secret: str | None
    message: str | None = Field(description="Why the payment did not go through; safe to show.")
    pending_until: int | None = Field(description="When an unpaid change is dropped (unix).")
    effective_at: int | None = Field(
        default=None, description="When a scheduled change starts (unix)."
    )


def _owned(ctx: Context, customer: str, subscription_id: str) -> stripe.Subscription:
    return fetch_owned(
        lambda: ctx.runtime.stripe.v1.subscriptions.retrieve(
            subscription_id, params={"expand": SUBSCRIPTION_EXPAND}
        ),
        lambda sub: id_of(sub.customer),
        customer,
        "subscription",
    )


def _pending_price(sub: stripe.Subscription) -> str | None:
    pending = sub.pending_update
    if pending is None or not pending.subscription_items:
        return None
    plans = [item for item in pending.subscription_items if not is_metered(item)]
    return plans[0].price.id if plans else None


def _waits_for_period_end(
    ctx: Context, sub: stripe.Subscription, item: stripe.SubscriptionItem, price_id: str
) -> bool:
    """DOWNGRADE_POLICY decides: a downgrade waits for the period end under period_end.

    Not for a subscription that ends then: a schedule manages the subscription's
    cancellation (Stripe sets and clears ``cancel_at`` from its phases, and a release clears
    it: YumaInaura/YumaInaura#2955), so a plan phase after the period end with
    ``end_behavior=release`` would keep the canceled subscription going and charge it."""
    if ctx.runtime.settings.downgrade_policy != "period_end":
        return False  # no Stripe read for the default policy
    new = ctx.runtime.stripe.v1.prices.retrieve(price_id)
    if not _schedules.at_period_end(ctx.runtime.settings, item.price, new):
        return False
    if sub.cancel_at_period_end or sub.cancel_at is not None:
        raise Conflict(
            "This subscription ends at its period end: resume it first to choose the plan "
            "it continues on."
        )
    return True


def _changeable(sub: stripe.Subscription, price_id: str) -> stripe.SubscriptionItem:
    """The item whose price changes, or 409 saying why the plan cannot change now."""
    if sub.status in ENDED:
        raise Conflict(
            "This subscription has already ended; start a new one instead.",
            code=SUBSCRIPTION_ENDED,
        )
    if sub.status != "active":
        raise Conflict(
            f"This subscription is {sub.status}: its plan can change once it is active "
            "(pay its open invoice, or wait for the trial to end).",
            code=SUBSCRIPTION_NOT_ACTIVE,
        )
    plans = licensed_items(sub)  # metered items come with the plan and change with it
    if len(plans) != 1:
        raise Conflict("This subscription has several plans; change it in the billing portal.")
    item = plans[0]
    if item.price.id == price_id:
        raise Conflict("You are already on this plan.", code=SAME_PRICE)
    pending = _pending_price(sub)
    if pending is not None and pending != price_id:
        raise Conflict(
            "A change to another plan is waiting for its payment; pay it or let it lapse first.",
            code=CHANGE_PENDING,
        )
    return item


def _charged_lines(invoice: stripe.Invoice) -> tuple[int, int, int | None]:
    """(credit, charge, end of a new period) of the invoice made at once for a change.

    Its proration lines credit the unused time and charge the rest of the period; when the
    interval changes, a regular line charges the whole new period, and its end is the date of
    the next regular invoice.
    """
    credit = charge = 0
    new_period_end = None
    for line in invoice.lines.data:
        details = line.parent.subscription_item_details if line.parent else None
        if details is None:
            continue
        if not details.proration:
            new_period_end = line.period.end
        if line.amount < 0:
            credit -= line.amount
        else:
            charge += line.amount
    return credit, charge, new_period_end


def preview_plan_change(ctx: Context, body: PreviewPlanChangeRequest) -> PlanChangePreview:
    """What switching plans costs now and at the next invoice, from Stripe's invoice preview."""
    require_offered(ctx, body.price_id)
    customer = customer_id(ctx, owning="subscription")
    sub = _owned(ctx, customer, body.subscription_id)
    item = _changeable(sub, body.price_id)
    promotion = maybe_find(ctx, body.promotion_code, customer=customer, price_id=body.price_id)
    client = ctx.runtime.stripe
    later = _waits_for_period_end(ctx, sub, item, body.price_id)

    def preview(behavior: Literal["always_invoice", "none"]) -> stripe.Invoice:
        params: InvoiceCreatePreviewParams = {
            "customer": customer,
            "subscription": sub.id,
            "subscription_details": {
                "items": change_items(ctx.runtime.settings, sub, item, body.price_id),  # type: ignore[typeddict-item]
                "proration_behavior": behavior,
            },
        }
        if promotion is not None:
            params["discounts"] = [{"promotion_code": promotion.promotion_code_id}]
        try:
            return client.v1.invoices.create_preview(params=params)
        except stripe.InvalidRequestError as exc:
            if promotion is not None and is_promotion_refusal(exc):
                raise promotion_refused(exc) from exc
            raise

    if later:
        # Nothing now; the renewal at the period end bills the new plan: Stripe's preview of
        # that invoice with the new items and no proration is what it will charge.
        renewal = preview("none")
        return PlanChangePreview(
            subscription_id=sub.id,
            current_price_id=item.price.id,
            price_id=body.price_id,
            currency=renewal.currency,
            proration_date=stripe_now(ctx, sub),
            amount_due_now=0,
            credit=0,
            charge=0,
            total_now=0,
            next_invoice=NextInvoice(
                date=item.current_period_end,
                total=renewal.total,
                discount_amount=sum(d.amount for d in renewal.total_discount_amounts or []),
            ),
            discount=promotion.summary() if promotion else None,
            takes_effect="period_end",
            effective_at=item.current_period_end,
        )
    now, renewal = preview("always_invoice"), preview("none")
    details = now.parent.subscription_details if now.parent else None
    # Optional in Stripe's types: omitted, not null, when nothing was prorated.
    at = (
        details.subscription_proration_date
        if details and "subscription_proration_date" in details
        else None
    )
    credit, charge, new_period_end = _charged_lines(now)
    return PlanChangePreview(
        subscription_id=sub.id,
        current_price_id=item.price.id,
        price_id=body.price_id,
        currency=now.currency,
        proration_date=at if at is not None else now.created,
        amount_due_now=now.amount_due,
        credit=credit,
        charge=charge,
        total_now=now.total,
        next_invoice=NextInvoice(
            date=new_period_end or item.current_period_end,
            total=renewal.total,
            discount_amount=sum(d.amount for d in renewal.total_discount_amounts or []),
        ),
        discount=promotion.summary() if promotion else None,
        takes_effect="now",
        effective_at=at if at is not None else now.created,
    )


def _pending_answer(ctx: Context, sub: stripe.Subscription) -> ChangePlanResponse:
    """The change waits for its invoice: what the frontend needs to finish paying it."""
    invoice = ctx.runtime.stripe.v1.invoices.retrieve(
        id_of(sub.latest_invoice) or "",
        params={"expand": ["confirmation_secret", "payments.data.payment.payment_intent"]},
    )
    status: Literal["requires_action", "payment_failed"] = "payment_failed"
    message = None
    for payment in invoice.payments.data if invoice.payments else []:
        pi = payment.payment.payment_intent
        if not isinstance(pi, stripe.PaymentIntent):
            continue
        if pi.status == "requires_action":
            status, message = "requires_action", "Your bank asks you to confirm this payment."
        elif pi.last_payment_error is not None:
            error = pi.last_payment_error
            message = decline(error.code, error.decline_code).message
    pending = sub.pending_update
    return ChangePlanResponse(
        status=status,
        subscription=subscription_view(sub),
        invoice_id=invoice.id,
        amount_due=invoice.amount_due,
        client_secret=invoice.confirmation_secret.client_secret
        if invoice.confirmation_secret
        else None,
        message=message,
        pending_until=pending.expires_at if pending else None,
    )


def stripe_now(ctx: Context, sub: stripe.Subscription) -> int:
    """Stripe's "now" for this subscription: the time its invoices and previews are stamped
    with. A customer on a test clock lives at the clock's ``frozen_time``, which an advance
    moves days or months away from the wall clock
    (https://docs.stripe.com/billing/testing/test-clocks: "freeze ... at a specific time");
    everyone else (every live-mode customer) at the wall clock."""
    clock = sub.test_clock
    if clock is None:
        return int(time.time())
    if isinstance(clock, stripe.test_helpers.TestClock):
        return clock.frozen_time
    return ctx.runtime.stripe.v1.test_helpers.test_clocks.retrieve(clock).frozen_time


def _check_proration_date(proration_date: int | None, now: int) -> None:
    """A preview's date, neither stale nor ahead of ``now`` (Stripe's, :func:`stripe_now`:
    judged against the functions' wall clock, a preview made on a test clock moved ahead would
    read as "in the future", and one moved back as too old).

    Stripe accepts any ``proration_date`` within the current period, later than now included
    (Stripe staff previewed one at ``current_period_end``:
    https://groups.google.com/a/lists.stripe.com/g/api-discuss/c/uTg9uWzU7qo; the parameter
    "calculates prorations as though the subscription was updated at the given time",
    stripe.params.SubscriptionUpdateParams). A date near the period end would make an upgrade
    almost free, so only a date that has passed is honoured; ``CLOCK_SKEW_SECONDS`` allows for
    Stripe's clock, which stamped the preview, being a little ahead of ours.
    """
    if proration_date is None:
        return
    if proration_date > now + CLOCK_SKEW_SECONDS:
        raise BadRequest(
            "proration_date: is in the future; pass the date preview-plan-change answered.",
            code=INVALID_FIELD,
            field="proration_date",
        )
    if now - proration_date > PREVIEW_LIFETIME_SECONDS:
        raise BadRequest(
            "proration_date: this preview is too old; preview the change again.",
            code=INVALID_FIELD,
            field="proration_date",
        )


def _check_in_period(proration_date: int | None, item: stripe.SubscriptionItem) -> None:
    # Stripe refuses it too ("Cannot specify proration date before the current subscription
    # started", same thread); said here, it names the field instead of a generic rejection.
    if proration_date is not None and proration_date < item.current_period_start:
        raise BadRequest(
            "proration_date: is before the current billing period; preview the change again.",
            code=INVALID_FIELD,
            field="proration_date",
        )


def _key(sub: stripe.Subscription, body: ChangePlanRequest, promotion: Promotion | None) -> str:
    # A double submit reads the same latest invoice and sends the same parameters, so Stripe
    # answers both with one change and one charge. Any change makes a new latest invoice, so a
    # later change (even back and forth between two plans) gets a key of its own.
    return ":".join(
        [
            "change-plan",
            sub.id,
            id_of(sub.latest_invoice) or "none",
            body.price_id,
            str(body.proration_date or "now"),
            promotion.promotion_code_id if promotion else "-",
        ]
    )


def _changed(ctx: Context, subscription_id: str) -> ChangePlanResponse:
    """The subscription as it is now, nothing charged."""
    sub = ctx.runtime.stripe.v1.subscriptions.retrieve(
        subscription_id, params={"expand": SUBSCRIPTION_EXPAND}
    )
    return ChangePlanResponse(
        status="changed",
        subscription=subscription_view(sub),
        invoice_id=None,
        amount_due=0,
        client_secret=None,
        message=None,
        pending_until=None,
    )


def change_plan(ctx: Context, body: ChangePlanRequest) -> ChangePlanResponse:
    """Switch the caller's subscription to another plan, billing the prorated difference now."""
    require_offered(ctx, body.price_id)
    customer = customer_id(ctx, owning="subscription")
    sub = _owned(ctx, customer, body.subscription_id)
    if body.proration_date is not None:
        _check_proration_date(body.proration_date, stripe_now(ctx, sub))
    if sub.status == "active" and _pending_price(sub) == body.price_id:
        return _pending_answer(ctx, sub)  # asked again while the first one waits for payment
    client = ctx.runtime.stripe
    scheduled = scheduled_change(sub.to_dict())
    plans = licensed_items(sub)
    if scheduled is not None and len(plans) == 1 and plans[0].price.id == body.price_id:
        # Re-selecting the current plan while a downgrade waits: the downgrade is dropped.
        _schedules.release(client, sub)
        log.info("scheduled downgrade canceled", extra={"subscription_id": sub.id})
        return _changed(ctx, sub.id)
    item = _changeable(sub, body.price_id)
    _check_in_period(body.proration_date, item)
    promotion = maybe_find(ctx, body.promotion_code, customer=customer, price_id=body.price_id)
    if _waits_for_period_end(ctx, sub, item, body.price_id):
        if promotion is not None:
            raise BadRequest(
                "promotion_code: a downgrade at the period end charges nothing now; enter the "
                "code when a charge is made.",
                code=INVALID_FIELD,
                field="promotion_code",
            )
        new_items = [body.price_id, *ctx.runtime.settings.metered_price_ids.get(body.price_id, [])]
        change_items(ctx.runtime.settings, sub, item, body.price_id)  # 409 on mismatched items
        _schedules.schedule_change(client, sub, new_items)
        log.info(
            "downgrade scheduled at period end",
            extra={"subscription_id": sub.id, "price_id": body.price_id},
        )
        answer = _changed(ctx, sub.id)
        return answer.model_copy(
            update={"status": "scheduled", "effective_at": item.current_period_end}
        )
    # Anything else changes now: a schedule still attached (a downgrade waiting, or its last
    # phase running) is released first, as Stripe manages a scheduled subscription's items.
    _schedules.release(client, sub)
    params: SubscriptionUpdateParams = {
        "items": change_items(ctx.runtime.settings, sub, item, body.price_id),  # type: ignore[typeddict-item]
        "proration_behavior": "always_invoice",
        "payment_behavior": "pending_if_incomplete",
        "expand": SUBSCRIPTION_EXPAND,
    }
    if body.proration_date is not None:
        params["proration_date"] = body.proration_date
    if promotion is not None:
        params["discounts"] = [{"promotion_code": promotion.promotion_code_id}]
    try:
        updated = ctx.runtime.stripe.v1.subscriptions.update(
            sub.id, params=params, options={"idempotency_key": _key(sub, body, promotion)}
        )
    except stripe.InvalidRequestError as exc:
        if promotion is not None and is_promotion_refusal(exc):
            raise promotion_refused(exc) from exc
        raise
    if updated.pending_update is not None:
        log.info("plan change waits for payment", extra={"subscription_id": sub.id})
        return _pending_answer(ctx, updated)
    invoice = updated.latest_invoice
    log.info("plan changed", extra={"subscription_id": sub.id, "price_id": body.price_id})
    return ChangePlanResponse(
        status="changed",
        subscription=subscription_view(updated),
        invoice_id=id_of(invoice),
        amount_due=invoice.amount_due if isinstance(invoice, stripe.Invoice) else 0,
        client_secret=None,
        message=None,
        pending_until=None,
    )
