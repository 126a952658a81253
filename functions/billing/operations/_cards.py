"""A caller's saved cards: owning one, and making it the default that renewals charge.

Shared by update_payment_method and retry_invoice, so neither operation imports the other.
Stripe's answers are read as the JSON the API sent (``billing.stripe_api.raw``), not as the
SDK's typed objects, which cost more CPU than the rest of these requests (``make bench``):
a field Stripe omits is absent (read with ``.get``), an expandable one is an id or a dict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from billing.context import Context
from billing.errors import IN_PROGRESS, PAYMENT_METHOD_NOT_SAVED, Conflict
from billing.operations._ownership import fetch_owned
from billing.statuses import LIVE
from billing.stripe_api import raw

if TYPE_CHECKING:
    import stripe

log = logging.getLogger(__name__)

# Each attempt follows one concurrent change of the customer's default; more than this many
# while one call runs is someone hammering, who is told to retry (the last call converges).
CONVERGE_ATTEMPTS = 10


def payment_method_reader(ctx: Context, payment_method_id: str) -> Callable[[], raw.Json]:
    """The Stripe read of a payment method, for :func:`own_payment_method`: made while the
    caller's customer is read from Firestore (``core.parallel.Background``), as neither needs
    the other's answer; its verdict is given only once the customer is known."""
    client = ctx.runtime.stripe
    return lambda: raw.get(client, f"/v1/payment_methods/{payment_method_id}")


def own_payment_method(read: Callable[[], raw.Json], customer: str) -> raw.Json:
    """One of the caller's saved payment methods, as ``read()`` (:func:`payment_method_reader`)
    answers it.

    A payment method attached to anyone else is 404, whether or not it exists. One attached
    to nobody (fresh from Stripe.js) is refused too rather than attached here: whoever
    learned its id could otherwise charge somebody else's card. Cards are saved with
    create-setup-intent, which also runs 3-D Secure when the bank asks for it.
    """
    pm = fetch_owned(
        read,
        lambda pm: raw.id_of(pm.get("customer")) or customer,  # unattached: refused below
        customer,
        "payment method",
    )
    if pm.get("customer") is None:
        raise Conflict(
            "Save this card first (create-setup-intent, then stripe.confirmSetup).",
            code=PAYMENT_METHOD_NOT_SAVED,
        )
    return pm


def _customer_default(client: stripe.StripeClient, customer: str) -> str | None:
    settings = raw.get(client, f"/v1/customers/{customer}").get("invoice_settings") or {}
    return raw.id_of(settings.get("default_payment_method"))


def _live_subscriptions(client: stripe.StripeClient, customer: str) -> list[raw.Json]:
    """Every page of them: past 100, the first page alone would leave the rest charging the
    old card."""
    subs = raw.get_all(client, "/v1/subscriptions", customer=customer, limit=100)
    return [sub for sub in subs if sub.get("status") in LIVE]


def _set_subscription_default(client: stripe.StripeClient, sub: str, card: str) -> None:
    raw.post(client, f"/v1/subscriptions/{sub}", default_payment_method=card)


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
    raw.post(
        client,
        f"/v1/customers/{customer}",
        invoice_settings={"default_payment_method": payment_method_id},
    )
    target: str | None = payment_method_id
    for _ in range(CONVERGE_ATTEMPTS):
        if only is not None:
            charging = [only]
            if target is not None:
                _set_subscription_default(client, only, target)
        else:
            subs = _live_subscriptions(client, customer)
            charging = [str(sub["id"]) for sub in subs]
            for sub in subs:
                if target is not None and raw.id_of(sub.get("default_payment_method")) != target:
                    _set_subscription_default(client, str(sub["id"]), target)
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
