"""The session stack's Stripe stand-in refuses what real Stripe would act on and it does not.

(The stand-in's own tests cover the mechanism; this checks the process the functions use.)
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.support.billing_flows import subscribe
from tests.support.mode import AGAINST_STRIPE, STANDIN_ONLY
from tests.support.stack_fixtures import StandIn, User

pytestmark = [pytest.mark.integration, pytest.mark.skipif(AGAINST_STRIPE, reason=STANDIN_ONLY)]


@pytest.mark.parametrize(
    "params",
    [
        {"proration_behavior": "none"},
        {"payment_behavior": "pending_if_incomplete"},
        {"pause_collection": {"behavior": "void"}},
        {"cancel_at": 1_900_000_000},
        {"trial_end": "now"},
    ],
)
def test_a_subscription_update_it_cannot_honour_is_refused(
    user: User, standin: StandIn, params: dict[str, Any]
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        standin.sdk.v1.subscriptions.update(sub_id, params)  # type: ignore[arg-type]
    assert caught.value.param == next(iter(params))
    assert "stand-in does not support" in str(caught.value.user_message)


def test_search_is_refused_not_read_as_a_subscription_id(standin: StandIn) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        standin.sdk.v1.subscriptions.search({"query": "status:'active'"})
    assert "does not implement GET /v1/subscriptions/search" in str(caught.value.user_message)
