"""handle-subscription: a subscription that ends between its read and the write is 409
``subscription_ended``, not a 500.

Stripe refuses an update of a canceled subscription with an InvalidRequestError; the operation
reads the subscription again and, finding it ended (its period ended, the Dashboard or another
device cancelled it), tells the caller so. Any other refusal still propagates. The fake answers
Stripe's JSON through ``raw_request``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
import stripe

from billing.auth import Caller
from billing.config import BillingSettings
from billing.context import Context
from billing.errors import Conflict
from billing.operations.subscriptions import HandleSubscriptionRequest, handle_subscription
from billing.runtime import Runtime
from billing.state.customers import CustomerRecord


class OneCustomer:
    def get(self, uid: str) -> CustomerRecord:
        return CustomerRecord(uid, "cus_1", None, None, "a", None, None)


class EndsMeanwhile:
    def __init__(self, status_after: str) -> None:
        self.status_after = status_after
        self.reads = 0

    def raw_request(self, method: str, path: str, **params: Any) -> Any:
        assert path == "/v1/subscriptions/sub_1", path
        if method == "post":
            raise stripe.InvalidRequestError("This subscription is canceled.", None)
        self.reads += 1
        status = "active" if self.reads == 1 else self.status_after
        data = {
            "id": "sub_1",
            "object": "subscription",
            "customer": "cus_1",
            "status": status,
            "cancel_at_period_end": False,
            "schedule": None,
            "items": {"object": "list", "data": []},
        }
        return SimpleNamespace(data=data)


def _ctx(settings: BillingSettings, fake: EndsMeanwhile) -> Context:
    runtime = Runtime(
        settings,
        stripe_client=cast(stripe.StripeClient, fake),
        customers=OneCustomer(),  # type: ignore[arg-type]
    )
    return Context(runtime=runtime, request_id="r", caller=Caller("u1", None, False))


def test_a_subscription_ended_before_the_write_is_409_subscription_ended(
    settings: BillingSettings,
) -> None:
    fake = EndsMeanwhile("canceled")
    body = HandleSubscriptionRequest(subscription_id="sub_1", cancel_at_period_end=True)
    with pytest.raises(Conflict) as refused:
        handle_subscription(_ctx(settings, fake), body)
    assert refused.value.code == "subscription_ended"
    assert fake.reads == 2  # read again after the refusal


def test_a_refusal_of_a_live_subscription_is_not_called_ended(settings: BillingSettings) -> None:
    fake = EndsMeanwhile("active")
    body = HandleSubscriptionRequest(subscription_id="sub_1", cancel_at_period_end=True)
    with pytest.raises(stripe.InvalidRequestError):
        handle_subscription(_ctx(settings, fake), body)
