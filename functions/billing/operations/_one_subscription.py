"""The one-subscription rule: a customer never has two subscriptions that could both be paid.

Shared by create_subscription (the Elements flow) and create_checkout_session (the hosted
page), so both refuse a second live subscription and end unfinished checkouts (incomplete
subscriptions and open Checkout pages) the same way. Both run under :func:`one_at_a_time`:
the customer's lock (:mod:`billing.state.checkout_locks`) makes "list, create, end the others"
one step to any other request for that customer, in every order and from any number of tabs.

Stripe's answers are read as the JSON it sent (:mod:`billing.stripe_api.raw`), not as the SDK's
typed objects: the listings here carry every subscription with its invoice expanded, and
building the typed objects cost CPU on every call and, on an instance's first call, the
import of their classes (~50 ms, docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import stripe

from billing.context import Context
from billing.errors import ALREADY_SUBSCRIBED, IN_PROGRESS, Conflict
from billing.operations._plan_items import plan_price
from billing.state.checkout_locks import Busy, CheckoutLocks
from billing.statuses import ENDED, LIVE
from billing.stripe_api import raw
from billing.stripe_api.raw import Json

log = logging.getLogger(__name__)

# How long a request waits for the ones before it (a double click, another tab) to finish
# opening their checkouts before it is told to retry: each takes a few Stripe calls, and a
# burst of clicks queues several. Well below the function's timeout and a browser's patience.
WAIT_FOR_OTHER_CHECKOUT_S = 30.0


@dataclass
class Opened:
    """What a request opened while holding the lock, and how to end it if the lock was lost."""

    id: str | None = None
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def record(self, opened_id: str, undo: Callable[[], None]) -> None:
        self.id = opened_id
        self._undo.append(undo)


def _busy() -> Conflict:
    return Conflict(
        "Another checkout of yours is being opened right now; try again in a moment.",
        code=IN_PROGRESS,
        headers={"Retry-After": "2"},
    )


@contextmanager
def one_at_a_time(ctx: Context, customer: str) -> Iterator[Opened]:
    """Holds the customer's checkout lock for the block; 409 ``in_progress`` (Retry-After)
    when another request keeps it longer than :data:`WAIT_FOR_OTHER_CHECKOUT_S`.

    A block that outlived its lease (another request took it over and may have acted) has
    what it opened ended again, and answers 409 ``in_progress``: the retry sees the other's.
    """
    settings = ctx.runtime.settings
    locks = CheckoutLocks(ctx.runtime.firestore, settings.firestore_timeout_seconds)
    try:
        held = locks.acquire(customer, wait_seconds=WAIT_FOR_OTHER_CHECKOUT_S, poll_seconds=0.2)
    except Busy:
        raise _busy() from None
    opened = Opened()
    try:
        yield opened
    except BaseException:
        try:
            locks.release(held)
        except Exception as exc:  # noqa: BLE001 - Firestore may be what failed: the lease ends
            log.warning("could not release the checkout lock: %s", type(exc).__name__)
        raise
    if not locks.release(held, opened.id):
        log.error("checkout lock lost before release: ending what this request opened")
        for undo in opened._undo:
            undo()
        raise _busy()


def payable_checkouts(client: stripe.StripeClient, customer: str) -> tuple[list[Json], list[Json]]:
    """The customer's open Checkout pages, then every subscription: in that order, so a page
    the customer pays while we look is seen either way and never missed.

    A page paid after this listing is still in it: ending it fails and tells us it completed
    (:func:`expire_page`). A page paid before it is not, but its payment made a subscription
    before the subscriptions are listed, so :func:`refuse_if_subscribed` sees that one. Listed
    the other way round, a page paid between the two reads is in neither: the caller would
    open a new checkout beside a paid subscription, and both could be paid (the race test in
    tests/integration/test_hosted_pages.py froze a request between the two and found it).
    """
    pages = open_checkout_pages(client, customer)
    return pages, subscriptions_of(client, customer)


def open_checkout_pages(client: stripe.StripeClient, customer: str) -> list[Json]:
    """The customer's Checkout pages that can still be paid, newest first (every page of the
    list: one left out could be paid beside the new checkout)."""
    return raw.get_all(client, "/v1/checkout/sessions", customer=customer, status="open", limit=100)


def expire_page(client: stripe.StripeClient, session_id: str) -> None:
    """Ends an open Checkout page, so it can no longer be paid; 409 ``already_subscribed``
    when it was paid meanwhile."""
    try:
        raw.post(client, f"/v1/checkout/sessions/{session_id}/expire")
    except stripe.InvalidRequestError:
        # Stripe expires only open sessions: this one completed or expired meanwhile.
        status = raw.get(client, f"/v1/checkout/sessions/{session_id}")["status"]
        if status == "complete":
            raise Conflict(
                "Your Checkout payment just completed; manage that subscription instead.",
                code=ALREADY_SUBSCRIBED,
            ) from None
        if status != "expired":
            raise


def subscriptions_of(client: stripe.StripeClient, customer: str) -> list[Json]:
    """Every subscription of the customer, newest first, with what the rule needs expanded
    (every page of the list: a live one left out would let a second one be opened)."""
    return raw.get_all(
        client,
        "/v1/subscriptions",
        customer=customer,
        status="all",
        limit=100,
        expand=[
            "data.latest_invoice.confirmation_secret",
            "data.pending_setup_intent",
            "data.latest_invoice.discounts",
        ],
    )


def refuse_if_subscribed(subs: list[Json]) -> None:
    """409 ``already_subscribed`` when one of ``subs`` is live."""
    for sub in subs:
        if sub["status"] in LIVE:
            raise Conflict(
                f"You already have a subscription ({sub['id']}, {sub['status']}); "
                "cancel it or change its plan instead.",
                code=ALREADY_SUBSCRIBED,
            )


def price_of(sub: Json) -> str | None:
    """The subscription's plan (its licensed price; metered prices come with it)."""
    return plan_price(sub)


def promotion_code_of(sub: Json) -> str | None:
    """The promotion code that discounted the subscription's latest invoice (a ``once``
    discount leaves the subscription itself once used, the invoice keeps it)."""
    invoice = sub.get("latest_invoice")
    if not isinstance(invoice, Mapping):
        return None
    for discount in invoice.get("discounts") or []:
        if isinstance(discount, Mapping) and discount.get("promotion_code") is not None:
            return raw.id_of(discount["promotion_code"])
    return None


def abandon(client: stripe.StripeClient, sub: Json) -> None:
    """Ends an unfinished checkout, so it and its replacement can never both be paid.

    Cancelling alone would leave its first invoice open and its payment confirmable; voiding
    the invoice first cancels that payment.
    """
    invoice = sub.get("latest_invoice")
    if isinstance(invoice, Mapping) and invoice.get("id") and invoice.get("status") == "open":
        invoice_id = invoice["id"]
        try:
            raw.post(client, f"/v1/invoices/{invoice_id}/void")
        except stripe.InvalidRequestError:
            # A concurrent request (a double click) voided it first, or it was just paid.
            if raw.get(client, f"/v1/invoices/{invoice_id}")["status"] == "paid":
                raise Conflict(
                    "Your earlier checkout just completed; manage that subscription instead.",
                    code=ALREADY_SUBSCRIBED,
                ) from None
    try:
        raw.delete(client, f"/v1/subscriptions/{sub['id']}")
    except stripe.InvalidRequestError:
        # Stripe answers "no such subscription" for one a concurrent request just cancelled.
        if raw.get(client, f"/v1/subscriptions/{sub['id']}")["status"] not in ENDED:
            raise
