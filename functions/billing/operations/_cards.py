"""A caller's saved cards: owning one, and making it the default that renewals charge.

Shared by update_payment_method and retry_invoice, so neither operation imports the other.
"""

from __future__ import annotations

import logging

import stripe

from billing.context import Context
from billing.errors import IN_PROGRESS, PAYMENT_METHOD_NOT_SAVED, Conflict
from billing.operations._ownership import fetch_owned, id_of
from billing.statuses import LIVE

log = logging.getLogger(__name__)

# Each attempt follows one concurrent change of the customer's default; more than this many
# while one call runs is someone hammering, who is told to retry (the last call converges).
CONVERGE_ATTEMPTS = 10


def own_payment_method(ctx: Context, customer: str, payment_method_id: str) -> stripe.PaymentMethod:
    """One of the caller's saved payment methods.

    A payment method attached to anyone else is 404, whether or not it exists. One attached
    to nobody (fresh from Stripe.js) is refused too rather than attached here: whoever
    learned its id could otherwise charge somebody else's card. Cards are saved with
    create-setup-intent, which also runs 3-D Secure when the bank asks for it.
    """
    pm = fetch_owned(
        lambda: ctx.runtime.stripe.v1.payment_methods.retrieve(payment_method_id),
        lambda pm: id_of(pm.customer) or customer,  # unattached: refused below, not 404
        customer,
        "payment method",
    )
    if pm.customer is None:
        raise Conflict(
            "Save this card first (create-setup-intent, then stripe.confirmSetup).",
            code=PAYMENT_METHOD_NOT_SAVED,
        )
    return pm


def _customer_default(client: stripe.StripeClient, customer: str) -> str | None:
    settings = client.v1.customers.retrieve(customer).invoice_settings
    return id_of(settings.default_payment_method) if settings is not None else None


def _live_subscriptions(client: stripe.StripeClient, customer: str) -> list[stripe.Subscription]:
    subs = client.v1.subscriptions.list(params={"customer": customer, "limit": 100})
    return [sub for sub in subs.data if sub.status in LIVE]


def make_default(
    ctx: Context, customer: str, payment_method_id: str, only: str | None = None
) -> list[str]:
    """The customer's invoice default, and every live subscription's (or just ``only``).

    Subscriptions created with save_default_payment_method=on_subscription carry their own
    default, which beats the customer's, so both must change for renewals to use the card.
    Returns the subscriptions that now charge it (none if a concurrent call's card won).

    Stripe has no transaction over a customer and its subscriptions, so concurrent calls
    (two tabs, a double click on two cards) converge instead: the customer's default is the
    one truth (last writer wins, as on Stripe), and each call makes the subscriptions match
    whatever it is, then checks that it did not change meanwhile, until it holds still. A
    call that wrote a stale card always sees the newer one on that check and corrects it.
    """
    client = ctx.runtime.stripe
    client.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": payment_method_id}}
    )
    target: str | None = payment_method_id
    for _ in range(CONVERGE_ATTEMPTS):
        if only is not None:
            charging = [only]
            if target is not None:
                client.v1.subscriptions.update(only, params={"default_payment_method": target})
        else:
            subs = _live_subscriptions(client, customer)
            charging = [sub.id for sub in subs]
            for sub in subs:
                if target is not None and id_of(sub.default_payment_method) != target:
                    client.v1.subscriptions.update(
                        sub.id, params={"default_payment_method": target}
                    )
        now = _customer_default(client, customer)
        if now == target:
            if target == payment_method_id:
                return charging
            log.info("a concurrent request made another card the default")
            return []
        target = now
    raise Conflict(
        "Your cards are being changed by another request; please try again.",
        code=IN_PROGRESS,
        headers={"Retry-After": "1"},
    )
