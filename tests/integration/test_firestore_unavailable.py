"""Firestore down: the caller gets a retryable 503 (after FIRESTORE_TIMEOUT_SECONDS), and
nothing reaches Stripe (the uid is claimed in Firestore before any Stripe call)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from devstack import procs
from devstack.stack import StackInfo
from tests.integration.conftest import StandIn, User, extra_function

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url_without_firestore(stack: StackInfo) -> Iterator[str]:
    dead = f"127.0.0.1:{procs.free_port()}"  # nothing listens there
    overrides = {"FIRESTORE_EMULATOR_HOST": dead, "FIRESTORE_TIMEOUT_SECONDS": "2"}
    with extra_function(stack, "create_customer", overrides) as url:
        yield url


def test_create_customer_with_firestore_down_is_503_and_stripe_is_untouched(
    url_without_firestore: str, user: User, standin: StandIn
) -> None:
    before = len(standin.requests(path_prefix="/v1/customers"))
    response = requests.post(
        url_without_firestore,
        json={},
        headers={"Authorization": f"Bearer {user.token}"},
        timeout=60,
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert len(standin.requests(path_prefix="/v1/customers")) == before
