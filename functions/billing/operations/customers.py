"""create_customer: one Stripe customer per user, ever."""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Annotated

import stripe
from pydantic import Field, StringConstraints

from billing.context import Context, RequestModel, ResponseModel
from billing.errors import EMAIL_REQUIRED, EMAIL_UNVERIFIED, BadRequest
from billing.state.customers import CustomerRecord

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams

log = logging.getLogger(__name__)

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=150, pattern=r"^[^\x00-\x1f\x7f]+$")
]

# Stripe keeps idempotency keys for at least 24 hours; a claim older than this may have made
# a customer that its key no longer finds, so look for it before creating another.
KEY_WINDOW = datetime.timedelta(hours=23)


class CreateCustomerRequest(RequestModel):
    name: Name | None = Field(default=None, description="Shown on invoices; optional.")


class CreateCustomerResponse(ResponseModel):
    customer_id: str
    created: bool = Field(description="False when the user already had a customer.")


def _params(record: CustomerRecord) -> CustomerCreateParams:
    # Always the parameters stored with the claim, so every retry of this creation sends
    # exactly what the first attempt sent and Stripe's idempotency key matches.
    params: CustomerCreateParams = {"metadata": {"firebase_uid": record.uid}}
    if record.email is not None:
        params["email"] = record.email
    if record.name is not None:
        params["name"] = record.name
    return params


def _made_by_earlier_attempt(client: stripe.StripeClient, record: CustomerRecord) -> str | None:
    if record.email is None:
        return None
    found = client.v1.customers.list(params={"email": record.email, "limit": 100})
    for customer in found.data:
        metadata = customer.metadata
        if metadata is not None and metadata.to_dict().get("firebase_uid") == record.uid:
            return customer.id
    return None


def _stale(record: CustomerRecord) -> bool:
    started = record.started_at
    return started is not None and datetime.datetime.now(datetime.UTC) - started > KEY_WINDOW


def create_customer(ctx: Context, body: CreateCustomerRequest) -> CreateCustomerResponse:
    """Create the caller's Stripe customer, or return the one they already have."""
    store = ctx.runtime.customers
    caller = ctx.user
    record = store.get(caller.uid)
    if record is not None and record.customer_id is not None:
        return CreateCustomerResponse(customer_id=record.customer_id, created=False)
    if caller.email is None:
        raise BadRequest(
            "Your account has no email address; add one before subscribing.", code=EMAIL_REQUIRED
        )
    if ctx.runtime.settings.require_verified_email and not caller.email_verified:
        raise BadRequest("Verify your email address before subscribing.", code=EMAIL_UNVERIFIED)
    if record is None:
        record, _ = store.begin(caller.uid, caller.email, body.name)
        if record.customer_id is not None:
            return CreateCustomerResponse(customer_id=record.customer_id, created=False)
    client = ctx.runtime.stripe
    customer_id = _made_by_earlier_attempt(client, record) if _stale(record) else None
    if customer_id is None:
        try:
            customer_id = client.v1.customers.create(
                params=_params(record),
                options={"idempotency_key": f"create-customer:{caller.uid}:{record.attempt}"},
            ).id
        except stripe.InvalidRequestError:
            # Stripe refuses the claim's parameters for good; retrying them would lock the
            # user out, so drop the claim and let the next call start afresh.
            store.release(record)
            raise
    created = store.link(record, customer_id)
    if created:
        log.info("customer created", extra={"customer_id": customer_id})
    return CreateCustomerResponse(customer_id=customer_id, created=created)
