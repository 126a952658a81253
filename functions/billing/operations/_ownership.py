"""Ownership: every Stripe id a caller sends must belong to the caller's own customer.

Anything else answers 404 with the same message as an id that does not exist, so a
caller learns nothing about other users' objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Protocol

import stripe
from pydantic import StringConstraints

from billing.context import Context
from billing.errors import CUSTOMER_REQUIRED, PRICE_NOT_OFFERED, BadRequest, Conflict, NotFound
from billing.translate import is_resource_missing
from core import parallel

SubscriptionId = Annotated[str, StringConstraints(pattern=r"^sub_[A-Za-z0-9]{1,64}$")]
InvoiceId = Annotated[str, StringConstraints(pattern=r"^in_[A-Za-z0-9]{1,64}$")]
# Stripe's test ids (pm_card_visa, ...) contain underscores; real ids do not.
PaymentMethodId = Annotated[str, StringConstraints(pattern=r"^pm_[A-Za-z0-9_]{1,64}$")]
PriceId = Annotated[str, StringConstraints(pattern=r"^price_[A-Za-z0-9_]{1,64}$")]


class HasId(Protocol):
    @property
    def id(self) -> str: ...


def id_of(field: str | HasId | None) -> str | None:
    """The id of an expandable Stripe field, expanded or not."""
    if field is None or isinstance(field, str):
        return field
    return field.id


def customer_id(ctx: Context, *, owning: str | None = None) -> str:
    """The caller's Stripe customer.

    Without one, an operation on an id (``owning`` names what the id is) answers 404 like any
    id that is not the caller's; an operation that creates something answers 409 telling the
    frontend to create the customer first.
    """
    record = ctx.runtime.customers.get(ctx.user.uid)
    if record is None or record.customer_id is None:
        if owning is not None:
            raise NotFound(f"No such {owning}.")
        raise Conflict(
            "You have no billing account yet: call create-customer first.",
            code=CUSTOMER_REQUIRED,
        )
    return record.customer_id


def fetch_owned[T](
    fetch: Callable[[], T], owner: Callable[[T], str | None], customer: str, what: str
) -> T:
    """``fetch()`` the object, 404 unless ``owner(obj)`` is ``customer``."""
    try:
        obj = fetch()
    except stripe.InvalidRequestError as exc:
        if is_resource_missing(exc):
            raise NotFound(f"No such {what}.") from None
        raise
    if owner(obj) != customer:
        raise NotFound(f"No such {what}.")
    return obj


def owned[T](
    ctx: Context, fetch: Callable[[], T], owner: Callable[[T], str | None], what: str
) -> tuple[str, T]:
    """The caller's customer and the object ``fetch()`` returns, read at the same time (the
    Firestore mapping beside the Stripe read); 404 unless the object is the caller's. A caller
    without a customer gets the same 404 as before, whatever Stripe answered."""
    with parallel.Background(fetch) as fetched:
        customer = customer_id(ctx, owning=what)
        return customer, fetch_owned(fetched.result, owner, customer, what)


def require_offered(ctx: Context, price_id: str) -> None:
    """400 unless ``price_id`` is one the app sells (ALLOWED_PRICE_IDS): prices never come
    from the request alone."""
    if price_id not in ctx.runtime.settings.allowed_price_ids:
        raise BadRequest(
            "price_id: this price is not offered.", code=PRICE_NOT_OFFERED, field="price_id"
        )
