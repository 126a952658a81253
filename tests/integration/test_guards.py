"""Guards on money and access that each fail a test when broken (checked by mutating them).

- Only a verified email gets a Stripe customer, with tokens in the emulator's real format.
- "Already subscribed" holds for every live status, not only ``active``.
- retry-invoice pays with its own deterministic idempotency key, not the SDK's random one.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from devstack.stack import StackInfo
from devstack.tokens import mint_token
from tests.support.billing_flows import (
    OTHER_PRICE,
    PRICE,
    failed_first_payment,
    saved_card,
    subscribe,
)
from tests.support.stack_fixtures import Api, StandIn, User

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "claims",
    [{"email_verified": False}, {"email_verified": "true"}, {"email_verified": 1}, {}],
    ids=["false", "the string true", "1", "absent"],
)
def test_an_unverified_email_gets_no_customer(
    api: Api, stack: StackInfo, standin: StandIn, claims: dict[str, Any]
) -> None:
    uid = f"unverified-{uuid.uuid4().hex[:10]}"
    email = f"{uid}@example.com"
    token = mint_token(uid, email, project_id=stack.project_id, extra_claims=claims)
    if not claims:  # mint_token says email_verified: true unless told otherwise
        token = mint_token(uid, None, project_id=stack.project_id, extra_claims={"email": email})
    response = api.call("create-customer", {}, token=token)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "email_unverified"
    created = standin.sdk.v1.customers.list(params={"email": email})
    assert created.data == []


def test_a_verified_email_gets_a_customer(api: Api, stack: StackInfo) -> None:
    # The same tokens with email_verified: true pass, so the refusals above are about it.
    uid = f"verified-{uuid.uuid4().hex[:10]}"
    token = mint_token(uid, f"{uid}@example.com", project_id=stack.project_id)
    assert api.call("create-customer", {}, token=token).status_code == 200


@pytest.mark.parametrize("status", ["active", "past_due", "unpaid", "paused"])
def test_a_running_subscription_in_any_live_status_blocks_a_second(
    user: User, standin: StandIn, status: str
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    if status != "active":
        standin.post(f"/_standin/subscriptions/{sub_id}/status", {"status": status})
    response = user.call("create-subscription", {"price_id": OTHER_PRICE})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "already_subscribed"
    subs = standin.sdk.v1.subscriptions.list(params={"customer": user.customer(), "status": "all"})
    assert [(s.id, s.status) for s in subs.data] == [(sub_id, status)]


def test_a_trialing_subscription_blocks_a_second(user: User, standin: StandIn) -> None:
    customer = user.customer()
    card = saved_card(user, standin)
    trial = standin.sdk.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"price": PRICE}],
            "trial_period_days": 7,
            "default_payment_method": card,
        }
    )
    assert trial.status == "trialing"
    response = user.call("create-subscription", {"price_id": OTHER_PRICE})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "already_subscribed"
    subs = standin.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    assert [(s.id, s.status) for s in subs.data] == [(trial.id, "trialing")]


def test_retry_invoice_pays_with_its_own_idempotency_key(user: User, standin: StandIn) -> None:
    failed = failed_first_payment(user, standin)
    card = saved_card(user, standin, "pm_card_visa")
    first_bucket = int(time.time()) // 60
    result = user.ok(
        "retry-invoice", {"invoice_id": failed["invoice_id"], "payment_method_id": card}
    )
    last_bucket = int(time.time()) // 60
    assert result["status"] == "paid"
    pays = standin.requests(method="POST", path_prefix=f"/v1/invoices/{failed['invoice_id']}/pay")
    expected = {
        f"retry-invoice:{failed['invoice_id']}:{card}:{bucket}"
        for bucket in range(first_bucket, last_bucket + 1)
    }
    assert len(pays) == 1
    assert pays[0]["idempotency_key"] in expected, pays[0]["idempotency_key"]
