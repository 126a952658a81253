"""create_subscription and handle_subscription (cancel at period end or resume).

retrieve_subscription, which also refreshes the caller's entitlement, is in
:mod:`billing.operations.subscription_status`: these two neither read nor write entitlements,
so their instances never load the entitlement rules and the catalog behind them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import stripe
from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.errors import SUBSCRIPTION_ENDED, SUBSCRIPTION_NOT_STARTED, Conflict
from billing.operations import _schedules
from billing.operations._one_subscription import (
    Opened,
    abandon,
    expire_page,
    one_at_a_time,
    payable_checkouts,
    price_of,
    promotion_code_of,
    refuse_if_subscribed,
)
from billing.operations._ownership import (
    PriceId,
    SubscriptionId,
    customer_id,
    require_offered,
)
from billing.operations._plan_items import subscribe_items
from billing.operations._promotions import (
    DiscountSummary,
    Promotion,
    PromotionCodeText,
    is_promotion_refusal,
    maybe_find,
    promotion_refused,
)
from billing.operations._views import (
    SUBSCRIPTION_EXPAND,
    SubscriptionView,
    owned_subscription,
    subscription_view,
)
from billing.statuses import ABANDONED, ENDED, LIVE
from billing.stripe_api import raw
from billing.stripe_api.raw import Json

if TYPE_CHECKING:
    from stripe.params import SubscriptionCreateParams

log = logging.getLogger(__name__)


class CreateSubscriptionRequest(RequestModel):
    price_id: PriceId
    promotion_code: PromotionCodeText | None = Field(
        default=None, description="A code the customer typed (e.g. WELCOME20); optional."
    )


class CreateSubscriptionResponse(ResponseModel):
    subscription_id: str
    status: str
    client_secret: str | None = Field(
        description="Confirm with Stripe.js: the first invoice's payment (client_secret_type "
        "'payment'), or, when nothing is due at once (a trial, a 100 % code, the customer's "
        "credit), the SetupIntent that saves a card for later invoices ('setup'); null when "
        "nothing needs confirming."
    )
    client_secret_type: Literal["payment", "setup"] | None
    created: bool = Field(description="False when an unpaid subscription to this price is reused.")
    amount_due: int | None = Field(
        description="What the first invoice asks for now, discount included (cents)."
    )
    discount: DiscountSummary | None = Field(description="The promotion code's discount.")


def _secret(sub: Json) -> tuple[str | None, Literal["payment", "setup"] | None]:
    invoice = sub.get("latest_invoice")
    if sub["status"] == "incomplete" and isinstance(invoice, Mapping):
        confirmation = invoice.get("confirmation_secret")
        if confirmation is not None:
            return confirmation["client_secret"], "payment"
    setup = sub.get("pending_setup_intent")
    if isinstance(setup, Mapping) and setup.get("client_secret"):
        return setup["client_secret"], "setup"
    return None, None


def _answer(sub: Json, *, created: bool, promotion: Promotion | None) -> CreateSubscriptionResponse:
    secret, kind = _secret(sub)
    invoice = sub.get("latest_invoice")
    return CreateSubscriptionResponse(
        subscription_id=sub["id"],
        status=sub["status"],
        client_secret=secret,
        client_secret_type=kind,
        created=created,
        amount_due=invoice["amount_due"] if isinstance(invoice, Mapping) else None,
        discount=promotion.summary() if promotion else None,
    )


def _end_pages(client: stripe.StripeClient, pages: list[Json], instead_of: Json) -> None:
    """Ends the customer's open Checkout pages in favour of ``instead_of``; when one of them was
    paid meanwhile, ``instead_of`` is ended too and the answer is 409 ``already_subscribed``."""
    try:
        for page in pages:
            expire_page(client, page["id"])
    except Conflict:
        abandon(client, instead_of)
        raise


def _same_checkout(sub: Json, price_id: str, promotion: Promotion | None) -> bool:
    wanted = promotion.promotion_code_id if promotion else None
    return price_of(sub) == price_id and promotion_code_of(sub) == wanted


def create_subscription(
    ctx: Context, body: CreateSubscriptionRequest
) -> CreateSubscriptionResponse:
    """Subscribe the caller to a price the app sells (Payment Element flow).

    Stripe's answers are read as JSON (``billing.stripe_api.raw``), as in the rule's own
    module (``_one_subscription``)."""
    require_offered(ctx, body.price_id)
    customer = customer_id(ctx)
    with one_at_a_time(ctx, customer) as opened:
        return _create_subscription(ctx, body, customer, opened)


def _create_subscription(
    ctx: Context, body: CreateSubscriptionRequest, customer: str, opened: Opened
) -> CreateSubscriptionResponse:
    settings = ctx.runtime.settings
    client = ctx.runtime.stripe
    pages, existing = payable_checkouts(client, customer)
    for sub in existing:
        if sub["status"] == "trialing" and price_of(sub) == body.price_id and _secret(sub)[0]:
            # A double click on a trial whose card is not saved yet: hand the same one back.
            return _answer(sub, created=False, promotion=None)
    refuse_if_subscribed(existing)
    # One trial per customer: cancelling and subscribing again does not earn another.
    trial = bool(settings.trial_days) and all(sub["status"] in ABANDONED for sub in existing)
    promotion = maybe_find(
        ctx, body.promotion_code, customer=customer, price_id=body.price_id, trial=trial
    )
    for sub in existing:
        if sub["status"] == "incomplete" and _same_checkout(sub, body.price_id, promotion):
            # A double click, or a return to an unfinished checkout: finish that one (and end
            # any Checkout page opened since, which could be paid beside it).
            _end_pages(client, pages, instead_of=sub)
            return _answer(sub, created=False, promotion=promotion)
    params: SubscriptionCreateParams = {
        "customer": customer,
        # The plan, and the metered prices that bill its usage beyond the quota.
        "items": subscribe_items(settings, body.price_id),  # type: ignore[typeddict-item]
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"],
        "metadata": {"firebase_uid": ctx.user.uid},
    }
    if promotion is not None:
        params["discounts"] = [{"promotion_code": promotion.promotion_code_id}]
    if trial:
        params["trial_period_days"] = settings.trial_days
    # Requests are one at a time (the lock), so a retry after a lost answer sees the same
    # newest subscription and shares the key: Stripe replays the one it made. Once a
    # subscription exists the newest one changes, and so does the key.
    newest = existing[0]["id"] if existing else "none"
    try:
        sub, replayed = raw.post_keyed(
            client,
            "/v1/subscriptions",
            params,
            idempotency_key=f"create-subscription:{customer}:{newest}",
        )
    except stripe.InvalidRequestError as exc:
        if promotion is not None and is_promotion_refusal(exc):
            # Stripe decided a restriction otherwise than the check above: nothing changed.
            raise promotion_refused(exc) from exc
        raise
    opened.record(sub["id"], lambda: abandon(client, sub))
    # Only now that the new checkout exists are the customer's unfinished ones ended (so they
    # and it can never both be paid): a call that fails leaves what the customer had. Nobody
    # can pay the new one before this answer hands out its secret.
    try:
        for old in existing:
            if old["status"] == "incomplete":
                abandon(client, old)
    except Conflict:
        abandon(client, sub)  # an old one was just paid: the new one must not be
        raise
    _end_pages(client, pages, instead_of=sub)
    # A retry that shared the key got Stripe's replay of the one creation: only the call
    # whose request made it says so (Stripe marks replays with Idempotent-Replayed).
    created = not replayed
    if created:
        log.info(
            "subscription created", extra={"subscription_id": sub["id"], "status": sub["status"]}
        )
    return _answer(sub, created=created, promotion=promotion)


class HandleSubscriptionRequest(RequestModel):
    subscription_id: SubscriptionId
    cancel_at_period_end: bool = Field(
        description="true: cancel when the paid period ends; false: keep it going (resume)."
    )


def _ended() -> Conflict:
    return Conflict(
        "This subscription has already ended; start a new one instead.",
        code=SUBSCRIPTION_ENDED,
    )


def handle_subscription(ctx: Context, body: HandleSubscriptionRequest) -> SubscriptionView:
    """Cancel the caller's subscription at period end, or keep it going.

    Stripe's answers are read as JSON (``billing.stripe_api.raw``): the view is all they feed,
    and the SDK's typed objects of two expanded subscriptions were the larger part of this
    call's own CPU (docs/performance.md)."""
    _, sub = owned_subscription(ctx, body.subscription_id)
    status = sub["status"]
    if status in ENDED:
        raise _ended()
    if status not in LIVE:
        raise Conflict(
            f"This subscription is {status}: complete its first payment first.",
            code=SUBSCRIPTION_NOT_STARTED,
        )
    if sub["cancel_at_period_end"] == body.cancel_at_period_end:
        return subscription_view(sub)
    # A schedule (a downgrade waiting for the period end) manages the cancellation: Stripe
    # refuses a direct change of it ("The subscription is managed by the subscription schedule
    # ..., and updating any cancelation behavior directly is not allowed", quoted in
    # laravel/cashier-stripe#1748). Released first: a subscription ending at its period end
    # has no next plan to switch to.
    client = ctx.runtime.stripe
    _schedules.release(client, sub)
    try:
        updated = raw.post(
            client,
            f"/v1/subscriptions/{sub['id']}",
            cancel_at_period_end=body.cancel_at_period_end,
            expand=SUBSCRIPTION_EXPAND,
        )
    except stripe.InvalidRequestError:
        # It ended between our read and this write (period end, dashboard, another device).
        if raw.get(client, f"/v1/subscriptions/{sub['id']}")["status"] in ENDED:
            raise _ended() from None
        raise
    log.info(
        "subscription updated",
        extra={"subscription_id": sub["id"], "cancel_at_period_end": body.cancel_at_period_end},
    )
    return subscription_view(updated)
