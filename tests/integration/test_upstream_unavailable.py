"""Dependencies that hang or vanish: the caller gets a retryable 503 after a bounded wait.

Firestore down: nothing reaches Stripe (the uid is claimed in Firestore before any Stripe
call). Stripe hanging: the read timeout ends the wait and a retry finishes the creation.
Each runs an extra instance of the function with short timeouts beside the session's stack.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import procs
from devstack.stack import Stack
from tests.support.stack_fixtures import StandIn, User, extra_function

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
