"""create_customer: one Stripe customer per user; the email comes from the token."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import stripe
from flask.testing import FlaskClient
from google.api_core.exceptions import ServiceUnavailable

from app import registry
from billing.config import BillingSettings
from billing.runtime import Runtime
from tests.support.fakes import FakeVerifier, InMemoryCustomers
from tests.support.helpers import client_for


class FakeCustomerService:
    """Stripe's customers.create/list with idempotency keys, as Stripe keeps them:
    the same key and parameters replay the first answer; other parameters are refused."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.by_key: dict[str, tuple[dict[str, Any], stripe.Customer]] = {}
        self.customers: list[stripe.Customer] = []
        self.fail_with: Exception | None = None
        self._lock = threading.Lock()

    def create(self, params: dict[str, Any], options: dict[str, Any]) -> stripe.Customer:
        with self._lock:
            self.calls.append(("create", params))
            if self.fail_with is not None:
                raise self.fail_with
            key = options["idempotency_key"]
            if key in self.by_key:
                first, customer = self.by_key[key]
                if first != params:
                    raise stripe.IdempotencyError("Keys for idempotent requests ...")
                return customer
            customer = stripe.Customer.construct_from(
                {"id": f"cus_{len(self.customers) + 1}", "object": "customer", **params}, "k"
            )
            self.customers.append(customer)
            self.by_key[key] = (params, customer)
            return customer

    def list(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self.calls.append(("list", params))
            found = [c for c in self.customers if c.email == params["email"]]
            return stripe.ListObject.construct_from({"object": "list", "data": found}, "k")


class FakeStripe:
    def __init__(self) -> None:
        self.customers = FakeCustomerService()

        class V1:
            customers = self.customers

        self.v1 = V1()


@pytest.fixture
def fake_stripe() -> FakeStripe:
    return FakeStripe()


def _client(
    settings: BillingSettings,
    verifier: FakeVerifier,
    customers: InMemoryCustomers,
    fake: FakeStripe,
) -> FlaskClient:
    verifier.add("alice", "alice@example.com")
    verifier.add("bob", "bob@example.com")
    verifier.add("anon")
    rt = Runtime(
        settings,
        verifier=verifier,
        customers=customers,
        stripe_client=cast(stripe.StripeClient, fake),
    )
    return client_for(registry.build(registry.get("create_customer")), rt)


@pytest.fixture
def client(
    settings: BillingSettings,
    verifier: FakeVerifier,
    customers: InMemoryCustomers,
    fake_stripe: FakeStripe,
) -> FlaskClient:
    return _client(settings, verifier, customers, fake_stripe)


def call(client: FlaskClient, uid: str, body: dict[str, Any] | None = None) -> Any:
    return client.post("/", json=body or {}, headers={"Authorization": f"Bearer token-{uid}"})


def test_creates_a_customer_with_the_token_email_and_uid_metadata(
    client: FlaskClient, fake_stripe: FakeStripe, customers: InMemoryCustomers
) -> None:
    response = call(client, "alice", {"name": "Ada Lovelace"})
    assert response.status_code == 200
    assert response.get_json() == {"customer_id": "cus_1", "created": True}
    assert fake_stripe.customers.calls == [
        (
            "create",
            {
                "email": "alice@example.com",
                "name": "Ada Lovelace",
                "metadata": {"firebase_uid": "alice"},
            },
        )
    ]
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
    assert len(fake_stripe.customers.customers) == 1


def test_firestore_failing_after_stripe_is_503_and_the_retry_finishes_the_same_customer(
    client: FlaskClient, fake_stripe: FakeStripe, customers: InMemoryCustomers
) -> None:
    customers.fail_link = ServiceUnavailable("firestore down")
    failed = call(client, "alice", {"name": "Ada"})
    assert failed.status_code == 503
    # The retry sends another name: the stored claim's parameters win, so Stripe's key matches.
    retried = call(client, "alice", {"name": "Someone Else"})
    assert retried.get_json() == {"customer_id": "cus_1", "created": True}
    assert len(fake_stripe.customers.customers) == 1
    assert customers.uid_for("cus_1") == "alice"


def test_a_claim_older_than_stripes_key_window_finds_the_earlier_customer(
    client: FlaskClient, fake_stripe: FakeStripe, customers: InMemoryCustomers
) -> None:
    customers.fail_link = ServiceUnavailable("firestore down")
    assert call(client, "alice").status_code == 503
    record = customers.records["alice"]
    customers.records["alice"] = replace(record, started_at=datetime.now(UTC) - timedelta(days=2))
    fake_stripe.customers.by_key.clear()  # Stripe forgot the key
    retried = call(client, "alice")
    assert retried.get_json() == {"customer_id": "cus_1", "created": True}
    assert len(fake_stripe.customers.customers) == 1
    assert [kind for kind, _ in fake_stripe.customers.calls] == ["create", "list"]


def test_the_email_comes_only_from_the_token(client: FlaskClient) -> None:
    response = call(client, "alice", {"email": "victim@example.com"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "email"


def test_users_without_an_email_get_a_clear_400(client: FlaskClient) -> None:
    response = call(client, "anon")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "email_required"


def test_unverified_emails_are_refused_unless_configured(
    settings: BillingSettings, verifier: FakeVerifier, customers: InMemoryCustomers
) -> None:
    verifier.add("carol", "carol@example.com")
    verifier._callers["token-carol"] = replace(
        verifier._callers["token-carol"], email_verified=False
    )
    strict = _client(settings, verifier, customers, FakeStripe())
    refused = call(strict, "carol")
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "email_unverified"
    lenient = _client(
        settings.model_copy(update={"require_verified_email": False}),
        verifier,
        customers,
        FakeStripe(),
    )
    assert call(lenient, "carol").status_code == 200


@pytest.mark.parametrize("name", ["", "x" * 151, "line\nbreak", 42])
def test_bad_names_are_400_naming_the_field(client: FlaskClient, name: Any) -> None:
    response = call(client, "alice", {"name": name})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "name"


def test_stripe_unavailable_is_503_and_links_nothing(
    client: FlaskClient, fake_stripe: FakeStripe, customers: InMemoryCustomers
) -> None:
    fake_stripe.customers.fail_with = stripe.APIConnectionError("network down")
    response = call(client, "alice")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "upstream_unavailable"
    record = customers.get("alice")
    assert record is not None
    assert record.customer_id is None
    assert customers.uid_for("cus_1") is None


@pytest.mark.parametrize("uid", ["a/b", "..", ".", "__x__", "x" * 1600])
def test_uids_firestore_cannot_take_as_ids_are_hashed(uid: str) -> None:
    from core.firestore import doc_id

    key = doc_id(uid)
    assert key.startswith("uid-sha256-")
    assert "/" not in key
    assert doc_id(uid) == key != doc_id(uid + "!")


def test_ordinary_uids_are_their_own_document_ids() -> None:
    from core.firestore import doc_id

    assert doc_id("pQ8kZ0xY1bW3nM5vR7tS9uL2aC4d") == "pQ8kZ0xY1bW3nM5vR7tS9uL2aC4d"


def test_parameters_stripe_refuses_release_the_claim_so_the_user_is_not_locked_out(
    client: FlaskClient, fake_stripe: FakeStripe, customers: InMemoryCustomers
) -> None:
    fake_stripe.customers.fail_with = stripe.InvalidRequestError(
        "Invalid name", "name", code="parameter_invalid"
    )
    refused = call(client, "alice", {"name": "Refused"})
    assert refused.status_code == 400
    assert customers.get("alice") is None
    fake_stripe.customers.fail_with = None
    retried = call(client, "alice", {"name": "Accepted"})
    assert retried.get_json() == {"customer_id": "cus_1", "created": True}
    assert fake_stripe.customers.customers[0].name == "Accepted"


def test_a_uid_shaped_like_a_hashed_id_is_hashed_too() -> None:
    from core.firestore import doc_id

    assert doc_id("uid-sha256-abc") != "uid-sha256-abc"
