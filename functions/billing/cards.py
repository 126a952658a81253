"""A caller's saved cards: owning one, and making it the default that renewals charge.

Shared by update_payment_method and retry_invoice, so neither operation imports the other.
"""

from __future__ import annotations

import stripe

from billing.context import Context
from billing.errors import Conflict
from billing.lifecycle import LIVE
from billing.owned import fetch_owned, id_of


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
            code="payment_method_not_saved",
        )
    return pm


def make_default(
    ctx: Context, customer: str, payment_method_id: str, only: str | None = None
) -> list[str]:
    """The customer's invoice default, and every live subscription's (or just ``only``).

    Subscriptions created with save_default_payment_method=on_subscription carry their own
    default, which beats the customer's, so both must change for renewals to use the card.
    """
    client = ctx.runtime.stripe
    client.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": payment_method_id}}
    )
    if only is not None:
        targets = [only]
    else:
        subs = client.v1.subscriptions.list(params={"customer": customer, "limit": 100})
        targets = [
            sub.id
            for sub in subs.data
            if sub.status in LIVE and id_of(sub.default_payment_method) != payment_method_id
        ]
    for sub_id in targets:
        client.v1.subscriptions.update(sub_id, params={"default_payment_method": payment_method_id})
    return targets
