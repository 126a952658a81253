"""Dependencies that hang or vanish: the caller gets a retryable 503 after a bounded wait.

Firestore down: nothing reaches Stripe (the uid is claimed in Firestore before any Stripe
call). Stripe hanging: the read timeout ends the wait and a retry finishes the creation.
Each runs an extra instance of the function with short timeouts beside the session's stack.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import procs
from devstack.stack import Stack, StackInfo
from tests.support.billing_flows import PRICE
from tests.support.stack_fixtures import StandIn, User, extra_function, log_entries

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url_without_firestore(running_stack: Stack) -> Iterator[str]:
    dead = f"127.0.0.1:{procs.free_port()}"  # nothing listens there
    overrides = {"FIRESTORE_EMULATOR_HOST": dead, "FIRESTORE_TIMEOUT_SECONDS": "2"}
    with extra_function(running_stack, "create_customer", overrides) as url:
        yield url


def test_create_customer_with_firestore_down_is_503_and_stripe_is_untouched(
    url_without_firestore: str, user: User, standin: StandIn
) -> None:
    before = len(standin.requests(path_prefix="/v1/customers"))
    response = user.post(url_without_firestore, {})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert len(standin.requests(path_prefix="/v1/customers")) == before


@pytest.fixture(scope="module")
def url_with_short_stripe_timeout(running_stack: Stack) -> Iterator[str]:
    overrides = {"STRIPE_READ_TIMEOUT": "1", "STRIPE_MAX_NETWORK_RETRIES": "1"}
    with extra_function(running_stack, "create_customer", overrides) as url:
        yield url


def test_a_hanging_stripe_is_503_after_the_read_timeout_and_links_nothing(
    url_with_short_stripe_timeout: str, user: User, faults: StandIn
) -> None:
    faults.fault(method="POST", path_prefix="/v1/customers", kind="timeout", latency_ms=3000)
    response = user.post(url_with_short_stripe_timeout, {})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "upstream_unavailable"
    faults.clear_faults()
    assert faults.sdk.v1.customers.list(params={"email": user.email}).data == []
    # The session's own create-customer finishes the claim with one customer.
    assert user.ok("create-customer")["created"] is True
    assert len(faults.sdk.v1.customers.list(params={"email": user.email}).data) == 1


def test_a_stripe_rejection_is_logged_with_stripes_message_and_request_id_not_answered(
    user: User, stack: StackInfo, faults: StandIn
) -> None:
    """Issue 15, point 17: an operator can tell why Stripe said no; the caller cannot."""
    user.customer()
    faults.fault(method="POST", path_prefix="/v1/subscriptions", kind="error", status=400, times=1)
    response = user.call("create-subscription", {"price_id": PRICE})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "payment_provider_rejected"
    assert "injected" not in response.text
    assert "req_" not in response.text
    [rejected] = [
        entry
        for entry in log_entries(
            stack.log_file("create-subscription"), response.headers["X-Request-Id"]
        )
        if entry.get("message") == "stripe rejected a request"
    ]
    assert "injected by the Stripe stand-in" in rejected["stripe_message"]
    assert rejected["stripe_request_id"].startswith("req_")
    [made] = faults.requests(method="POST", path_prefix="/v1/subscriptions")[-1:]
    assert made["request_id"] == rejected["stripe_request_id"]
