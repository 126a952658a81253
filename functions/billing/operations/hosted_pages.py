"""create_checkout_session and create_portal_session: Stripe's hosted pages for the caller.

Both always name the caller's own Stripe customer (never a second one), and take their
return URLs from configuration only, so a request cannot send a customer anywhere else.
What the customer then does on those pages reaches ``entitlements/{uid}`` through the
webhook's sync, like every other change.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import stripe
from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.errors import Conflict, NotConfigured
from billing.operations._one_subscription import (
    Opened,
    abandon,
    expire_page,
    one_at_a_time,
    payable_checkouts,
    refuse_if_subscribed,
)
from billing.operations._ownership import PriceId, customer_id, require_offered
from billing.operations._plan_items import checkout_line_items
from billing.operations._promotions import DiscountSummary, Promotion, PromotionCodeText, maybe_find
from billing.stripe_api import raw
from billing.stripe_api.raw import Json

if TYPE_CHECKING:
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionCreateParams
    from stripe.params.checkout import SessionCreateParams

log = logging.getLogger(__name__)


class CheckoutRequest(RequestModel):
    price_id: PriceId
    promotion_code: PromotionCodeText | None = Field(
        default=None,
        description="A code the customer typed; without one, the page offers a code field.",
    )


class CheckoutResponse(ResponseModel):
    session_id: str
    url: str = Field(description="Send the browser here (Stripe's hosted Checkout page).")
    expires_at: int
    amount_total: int | None = Field(description="What the page will charge now (cents).")
    discount: DiscountSummary | None


class PortalRequest(RequestModel):
    pass


class PortalResponse(ResponseModel):
    url: str = Field(description="Send the browser here (Stripe's billing portal).")


def create_checkout_session(ctx: Context, body: CheckoutRequest) -> CheckoutResponse:
    """A Stripe Checkout page that subscribes the caller to a price the app sells."""
    require_offered(ctx, body.price_id)
    customer = customer_id(ctx)
    with one_at_a_time(ctx, customer) as opened:
        return _create_checkout_session(ctx, body, customer, opened)


def _create_checkout_session(
    ctx: Context, body: CheckoutRequest, customer: str, opened: Opened
) -> CheckoutResponse:
    settings = ctx.runtime.settings
    client = ctx.runtime.stripe
    earlier, existing = payable_checkouts(client, customer)
    refuse_if_subscribed(existing)
    promotion = maybe_find(ctx, body.promotion_code, customer=customer, price_id=body.price_id)
    for sub in existing:
        if sub["status"] == "incomplete":
            # An unfinished Elements checkout could still be paid beside this one.
            abandon(client, sub)
    code = promotion.promotion_code_id if promotion else "-"
    choice = {"price_id": body.price_id, "promotion_code": code}
    for page in earlier:
        if page.get("metadata") == choice:
            # A double click, or a return to the same choice: the page already open (and
            # only it: any other open page is ended, as below).
            _end_others(client, earlier, keep=page["id"])
            return _answer(page, promotion)
    # Required settings of this function (the registry): checked when its instance starts.
    pages = settings.checkout_pages()
    params: SessionCreateParams = {
        "mode": "subscription",
        "customer": customer,
        "line_items": checkout_line_items(settings, body.price_id),  # type: ignore[typeddict-item]
        "success_url": pages.success_url,
        "cancel_url": pages.cancel_url,
        "subscription_data": {"metadata": {"firebase_uid": ctx.user.uid}},
        "client_reference_id": ctx.user.uid,
        "metadata": choice,
    }
    if promotion is not None:
        params["discounts"] = [{"promotion_code": promotion.promotion_code_id}]
    else:
        params["allow_promotion_codes"] = True
    # Requests are one at a time (the lock): a retry after a lost answer sees the same
    # subscriptions and open pages, so it shares the key and gets the one session Stripe made.
    newest = existing[0]["id"] if existing else "none"
    latest_page = earlier[0]["id"] if earlier else "none"
    session = raw.post(
        client,
        "/v1/checkout/sessions",
        idempotency_key=f"checkout:{customer}:{newest}:{latest_page}:{body.price_id}:{code}",
        **params,
    )
    session_id = str(session["id"])
    opened.record(session_id, lambda: expire_page(client, session_id))
    _end_others(client, earlier, keep=session_id)
    log.info("checkout session created", extra={"session_id": session_id})
    return _answer(session, promotion)


def _end_others(client: stripe.StripeClient, pages: list[Json], *, keep: str) -> None:
    """Two open pages could both be paid: only ``keep``, the newest choice, stays usable. When
    an older one was paid meanwhile, ``keep`` is ended too and the answer is 409."""
    try:
        for other in pages:
            if other["id"] != keep:
                expire_page(client, other["id"])
    except Conflict:
        expire_page(client, keep)
        raise


def _answer(session: Json, promotion: Promotion | None) -> CheckoutResponse:
    assert session.get("url") is not None  # open hosted sessions always have one
    return CheckoutResponse(
        session_id=session["id"],
        url=session["url"],
        expires_at=session["expires_at"],
        amount_total=session.get("amount_total"),
        discount=promotion.summary() if promotion else None,
    )


def create_portal_session(ctx: Context, body: PortalRequest) -> PortalResponse:
    """A Stripe billing portal page for the caller: invoices, cards, plan, cancellation."""
    customer = customer_id(ctx)
    return_url = ctx.runtime.settings.portal_return()  # required by the registry
    params: PortalSessionCreateParams = {
        "customer": customer,
        "return_url": return_url,
    }
    # The configuration infra/stripe.tf made from the catalog: plan switches among the offered
    # prices only. Without it Stripe uses the account's default, which a fresh account lacks.
    configuration = ctx.runtime.settings.portal_configuration_id
    if configuration is not None:
        params["configuration"] = configuration
    try:
        session = ctx.runtime.stripe.v1.billing_portal.sessions.create(params=params)
    except stripe.InvalidRequestError as exc:
        if _portal_not_saved(exc):
            log.error(
                "billing portal not configured: %s",
                exc.user_message,
                extra={"configuration": configuration, "request_id": exc.request_id},
            )
            raise NotConfigured() from exc
        raise
    return PortalResponse(url=session.url)


def _portal_not_saved(exc: stripe.InvalidRequestError) -> bool:
    """Stripe's refusals when the portal has no saved settings to open with: a fresh account
    without ``configuration`` ("You can't create a portal session in test mode until you save
    your customer portal settings ...", https://github.com/mozilla/fxa/issues/13245), or a
    ``configuration`` that does not exist or is inactive (``param`` names it)."""
    if exc.param == "configuration":
        return True
    message = (exc.user_message or "").lower()
    return "portal settings" in message or "portal configuration" in message
