"""handle-subscription: a subscription that ends between its read and the write is 409
``subscription_ended``, not a 500.

Stripe refuses an update of a canceled subscription with an InvalidRequestError; the operation
reads the subscription again and, finding it ended (its period ended, the Dashboard or another
device cancelled it), tells the caller so. Any other refusal still propagates. The fake answers
Stripe's JSON through ``raw_request``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from billing.config import BillingSettings
from billing.errors import Conflict
from billing.operations.subscriptions import HandleSubscriptionRequest, handle_subscription
from tests.support.fakes import caller_context


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


def test_a_subscription_ended_before_the_write_is_409_subscription_ended(
    settings: BillingSettings,
) -> None:
    fake = EndsMeanwhile("canceled")
    body = HandleSubscriptionRequest(subscription_id="sub_1", cancel_at_period_end=True)
    with pytest.raises(Conflict) as refused:
        handle_subscription(caller_context(settings, fake), body)
    assert refused.value.code == "subscription_ended"
    assert fake.reads == 2  # read again after the refusal


def test_a_refusal_of_a_live_subscription_is_not_called_ended(settings: BillingSettings) -> None:
    fake = EndsMeanwhile("active")
    body = HandleSubscriptionRequest(subscription_id="sub_1", cancel_at_period_end=True)
    with pytest.raises(stripe.InvalidRequestError):
        handle_subscription(caller_context(settings, fake), body)
