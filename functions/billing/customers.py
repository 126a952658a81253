"""create_customer: one Stripe customer per user, ever."""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import Field, StringConstraints
from stripe.params import CustomerCreateParams

from billing.errors import BadRequest
from billing.http import Context, RequestModel, ResponseModel, endpoint

log = logging.getLogger(__name__)

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=150, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class CreateCustomerRequest(RequestModel):
    name: Name | None = Field(default=None, description="Shown on invoices; optional.")


class CreateCustomerResponse(ResponseModel):
    customer_id: str
    created: bool = Field(description="False when the user already had a customer.")


def idempotency_key(uid: str) -> str:
    # Derived from the uid alone, so concurrent and retried calls (within Stripe's 24 h key
    # window) all land on the same customer instead of creating another.
    return f"create-customer:{uid}"


@endpoint("create_customer", CreateCustomerRequest, errors=(409,))
def create_customer(ctx: Context, body: CreateCustomerRequest) -> CreateCustomerResponse:
    """Create the caller's Stripe customer, or return the one they already have."""
    store = ctx.runtime.customers
    uid = ctx.caller.uid
    existing = store.get(uid)
    if existing is not None:
        return CreateCustomerResponse(customer_id=existing.customer_id, created=False)
    if ctx.caller.email is None:
        raise BadRequest(
            "Your account has no email address; add one before subscribing.", code="email_required"
        )
    params: CustomerCreateParams = {"email": ctx.caller.email, "metadata": {"firebase_uid": uid}}
    if body.name is not None:
        params["name"] = body.name
    customer = ctx.runtime.stripe.v1.customers.create(
        params=params,
        options={"idempotency_key": idempotency_key(uid)},
    )
    if store.link(uid, customer.id, ctx.caller.email):
        log.info("customer created", extra={"customer_id": customer.id})
        return CreateCustomerResponse(customer_id=customer.id, created=True)
    # Lost a race with a concurrent call; the idempotency key makes its customer ours too.
    winner = store.get(uid)
    if winner is None:  # the other call's write vanished: cannot happen with create()
        raise RuntimeError("customer link disappeared after a create conflict")
    if winner.customer_id != customer.id:
        log.warning(
            "duplicate Stripe customer created outside the idempotency window",
            extra={"kept": winner.customer_id, "orphan": customer.id},
        )
    return CreateCustomerResponse(customer_id=winner.customer_id, created=False)
