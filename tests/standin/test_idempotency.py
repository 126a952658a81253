"""Idempotency keys: replay, mismatch, in-flight conflicts under real concurrency."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests
import stripe
from stripe.params import SetupIntentCreateParams

from tests.standin.conftest import StandinServer


def _key() -> str:
    return f"test-{uuid.uuid4()}"


def test_same_key_same_params_replays_without_a_second_effect(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    key = _key()
    first = client.v1.customers.create({"email": email}, {"idempotency_key": key})
    second = client.v1.customers.create({"email": email}, {"idempotency_key": key})
    assert second.id == first.id
    assert [c.id for c in client.v1.customers.list({"email": email}).data] == [first.id]
    log = [r for r in standin_server.requests(method="POST") if r["idempotency_key"] == key]
    assert [(r["status"], r["replayed"]) for r in log] == [(200, False), (200, True)]
    assert "Authorization" not in str(log)


def test_replay_is_marked_in_headers(standin_server: StandinServer, email: str) -> None:
    key = _key()
    headers = {"Authorization": "Bearer sk_test_headers", "Idempotency-Key": key}
    url = f"{standin_server.url}/v1/customers"
    first = requests.post(url, data={"email": email}, headers=headers, timeout=5)
    again = requests.post(url, data={"email": email}, headers=headers, timeout=5)
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Original-Request"] == first.headers["Request-Id"]
    assert again.content == first.content


def test_errors_after_execution_are_replayed_too(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    key = _key()
    params: SetupIntentCreateParams = {
        "customer": customer.id,
        "payment_method": "pm_card_chargeDeclined",
        "confirm": True,
    }
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.setup_intents.create(params, {"idempotency_key": key})


def test_validation_failures_are_not_saved(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    key = _key()
    headers = {"Authorization": "Bearer sk_test_validation", "Idempotency-Key": key}
    url = f"{standin_server.url}/v1/customers"
    bad = requests.post(url, data={"emaill": email}, headers=headers, timeout=5)
    assert bad.status_code == 400
    good = requests.post(url, data={"email": email}, headers=headers, timeout=5)
    assert good.status_code == 200
    assert "Idempotent-Replayed" not in good.headers


def test_same_key_different_params_is_an_idempotency_error(
    client: stripe.StripeClient, email: str
) -> None:
    key = _key()
    client.v1.customers.create({"email": email}, {"idempotency_key": key})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create({"email": "x" + email}, {"idempotency_key": key})
    assert caught.value.http_status == 400
    assert caught.value.error is not None
    assert caught.value.error.type == "idempotency_error"
    assert [c.email for c in client.v1.customers.list({"email": "x" + email}).data] == []


def test_same_key_on_another_endpoint_is_an_idempotency_error(
    client: stripe.StripeClient, email: str
) -> None:
    key = _key()
    customer = client.v1.customers.create({"email": email}, {"idempotency_key": key})
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.update(customer.id, {"email": email}, {"idempotency_key": key})


def test_keys_are_scoped_per_api_key(standin_server: StandinServer, email: str) -> None:
    key = _key()
    one = standin_server.client("sk_test_one").v1.customers.create(
        {"email": email}, {"idempotency_key": key}
    )
    two = standin_server.client("sk_test_two").v1.customers.create(
        {"email": email}, {"idempotency_key": key}
    )
    assert one.id != two.id


def test_twenty_concurrent_requests_with_one_key_create_one_customer(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    # Hold the first request in flight long enough for the others to collide with it.
    standin_server.control("POST", "/_standin/config", {"latency_ms": 300})
    key = _key()
    barrier = threading.Barrier(20)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def create() -> None:
        barrier.wait()
        try:
            customer = client.v1.customers.create({"email": email}, {"idempotency_key": key})
        except stripe.StripeError as error:  # pragma: no cover - reported below
            with lock:
                errors.append(error)
            return
        with lock:
            results.append(customer.id)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 20
    assert len(set(results)) == 1
    assert [c.id for c in client.v1.customers.list({"email": email}).data] == results[:1]
    log = [r for r in standin_server.requests(method="POST") if r["idempotency_key"] == key]
    executed = [r for r in log if r["status"] == 200 and not r["replayed"]]
    assert len(executed) == 1
    assert any(r["status"] == 409 for r in log)  # the SDK retried those
