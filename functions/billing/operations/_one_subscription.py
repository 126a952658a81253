"""The one-subscription rule: a customer never has two subscriptions that could both be paid.

Shared by create_subscription (the Elements flow) and create_checkout_session (the hosted
page), so both refuse a second live subscription and end unfinished checkouts the same way.
"""

from __future__ import annotations

import stripe

from billing.errors import Conflict
from billing.operations._ownership import id_of
from billing.statuses import ENDED, LIVE


def subscriptions_of(client: stripe.StripeClient, customer: str) -> list[stripe.Subscription]:
    """Every subscription of the customer, newest first, with what the rule needs expanded."""
    found = client.v1.subscriptions.list(
        params={
            "customer": customer,
            "status": "all",
            "limit": 100,
            "expand": [
                "data.latest_invoice.confirmation_secret",
                "data.pending_setup_intent",
                "data.latest_invoice.discounts",
            ],
        }
    )
    return list(found.data)


def refuse_if_subscribed(subs: list[stripe.Subscription]) -> None:
    """409 ``already_subscribed`` when one of ``subs`` is live."""
    for sub in subs:
        if sub.status in LIVE:
            raise Conflict(
                f"You already have a subscription ({sub.id}, {sub.status}); "
                "cancel it or change its plan instead.",
                code="already_subscribed",
            )


def price_of(sub: stripe.Subscription) -> str | None:
    return sub.items.data[0].price.id if sub.items.data else None


def promotion_code_of(sub: stripe.Subscription) -> str | None:
    """The promotion code that discounted the subscription's latest invoice (a ``once``
    discount leaves the subscription itself once used, the invoice keeps it)."""
    invoice = sub.latest_invoice
    if not isinstance(invoice, stripe.Invoice):
        return None
    for discount in invoice.discounts:
        if isinstance(discount, stripe.Discount) and discount.promotion_code is not None:
            return id_of(discount.promotion_code)
    return None


def abandon(client: stripe.StripeClient, sub: stripe.Subscription) -> None:
    """Ends an unfinished checkout, so it and its replacement can never both be paid.

    Cancelling alone would leave its first invoice open and its payment confirmable; voiding
    the invoice first cancels that payment.
    """
    invoice = sub.latest_invoice
    if isinstance(invoice, stripe.Invoice) and invoice.id and invoice.status == "open":
        try:
            client.v1.invoices.void_invoice(invoice.id)
        except stripe.InvalidRequestError:
            # A concurrent request (a double click) voided it first, or it was just paid.
            if client.v1.invoices.retrieve(invoice.id).status == "paid":
                raise Conflict(
                    "Your earlier checkout just completed; manage that subscription instead.",
                    code="already_subscribed",
                ) from None
    try:
        client.v1.subscriptions.cancel(sub.id)
    except stripe.InvalidRequestError:
        # Stripe answers "no such subscription" for one a concurrent request just cancelled.
        if client.v1.subscriptions.retrieve(sub.id).status not in ENDED:
            raise
