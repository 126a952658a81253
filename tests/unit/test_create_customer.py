"""create_customer: one Stripe customer per user; the email comes from the token."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
import stripe
from flask.testing import FlaskClient

from billing.config import Settings
from billing.customers import create_customer
from billing.runtime import Runtime
from tests.fakes import FakeVerifier, InMemoryCustomers
from tests.helpers import client_for


class FakeCustomerService:
    """Stripe's customers.create with idempotency keys: same key, same customer."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.by_key: dict[str, stripe.Customer] = {}
        self.fail_with: Exception | None = None
        self._lock = threading.Lock()

    def create(self, params: dict[str, Any], options: dict[str, Any]) -> stripe.Customer:
        with self._lock:
            self.calls.append((params, options))
            if self.fail_with is not None:
                raise self.fail_with
            key = options["idempotency_key"]
            if key not in self.by_key:
                self.by_key[key] = stripe.Customer.construct_from(
                    {"id": f"cus_{len(self.by_key) + 1}", "object": "customer", **params}, "k"
                )
            return self.by_key[key]


class FakeStripe:
    def __init__(self) -> None:
        self.customers = FakeCustomerService()

        class V1:
            customers = self.customers

        self.v1 = V1()


@pytest.fixture
def fake_stripe() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def client(
    settings: Settings,
    verifier: FakeVerifier,
    customers: InMemoryCustomers,
    fake_stripe: FakeStripe,
) -> FlaskClient:
    verifier.add("alice", "alice@example.com")
    verifier.add("bob", "bob@example.com")
    verifier.add("anon")
    rt = Runtime(
        settings,
        verifier=verifier,
        customers=customers,
        stripe_client=cast(stripe.StripeClient, fake_stripe),
    )
    return client_for(create_customer, rt)


def call(client: FlaskClient, uid: str, body: dict[str, Any] | None = None) -> Any:
    return client.post("/", json=body or {}, headers={"Authorization": f"Bearer token-{uid}"})


def test_creates_a_customer_with_the_token_email_and_uid_metadata(
    client: FlaskClient, fake_stripe: FakeStripe, customers: InMemoryCustomers
) -> None:
    response = call(client, "alice", {"name": "Ada Lovelace"})
    assert response.status_code == 200
    assert response.get_json() == {"customer_id": "cus_1", "created": True}
    params, options = fake_stripe.customers.calls[0]
    assert params == {
        "email": "alice@example.com",
        "name": "Ada Lovelace",
        "metadata": {"firebase_uid": "alice"},
    }
    assert options == {"idempotency_key": "create-customer:alice"}
    assert customers.uid_for("cus_1") == "alice"


def test_second_call_returns_the_same_customer_without_calling_stripe(
    client: FlaskClient, fake_stripe: FakeStripe
) -> None:
    call(client, "alice")
    again = call(client, "alice")
    assert again.get_json() == {"customer_id": "cus_1", "created": False}
    assert len(fake_stripe.customers.calls) == 1


def test_each_user_gets_their_own_customer(client: FlaskClient) -> None:
    assert call(client, "alice").get_json()["customer_id"] == "cus_1"
    assert call(client, "bob").get_json()["customer_id"] == "cus_2"


def test_concurrent_calls_make_one_customer_and_one_created_true(
    client: FlaskClient, fake_stripe: FakeStripe
) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: call(client, "alice").get_json(), range(10)))
    assert {r["customer_id"] for r in results} == {"cus_1"}
    assert sum(r["created"] for r in results) == 1
    assert len(fake_stripe.customers.by_key) == 1


def test_the_email_comes_only_from_the_token(client: FlaskClient) -> None:
    response = call(client, "alice", {"email": "victim@example.com"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "email"


def test_users_without_an_email_get_a_clear_400(client: FlaskClient) -> None:
    response = call(client, "anon")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "email_required"


@pytest.mark.parametrize("name", ["", "x" * 151, "line\nbreak", 42])
def test_bad_names_are_400_naming_the_field(client: FlaskClient, name: Any) -> None:
    response = call(client, "alice", {"name": name})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "name"


def test_stripe_unavailable_is_503_and_writes_nothing(
    client: FlaskClient, fake_stripe: FakeStripe, customers: InMemoryCustomers
) -> None:
    fake_stripe.customers.fail_with = stripe.APIConnectionError("network down")
    response = call(client, "alice")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "upstream_unavailable"
    assert customers.get("alice") is None
