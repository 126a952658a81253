"""Injected faults reach the SDK as Stripe's failures would, and perform nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import stripe

from tests.standin.conftest import StandinServer
from tests.support.stack import wait_for


def _customers(client: stripe.StripeClient, email: str) -> list[str]:
    return [c.id for c in client.v1.customers.list({"email": email}).data]


def _attempts(standin_server: StandinServer, since: int) -> list[dict[str, object]]:
    return [
        r
        for r in standin_server.requests(method="POST", path_prefix="/v1/customers")
        if int(str(r["seq"])) > since
    ]


def _last_seq(standin_server: StandinServer) -> int:
    return max((int(r["seq"]) for r in standin_server.requests()), default=0)


def test_500_until_cleared_is_api_error_after_retries(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    since = _last_seq(standin_server)
    standin_server.fault(method="POST", path_prefix="/v1/customers", kind="error", status=500)
    with pytest.raises(stripe.APIError) as caught:
        client.v1.customers.create({"email": email})
    assert caught.value.http_status == 500
    attempts = _attempts(standin_server, since)
    assert [r["status"] for r in attempts] == [500, 500, 500]  # max_network_retries=2
    assert len({r["idempotency_key"] for r in attempts}) == 1
    standin_server.control("DELETE", "/_standin/faults")
    assert _customers(client, email) == []


def test_one_500_is_retried_and_the_customer_created_once(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    since = _last_seq(standin_server)
    standin_server.fault(path_prefix="/v1/customers", kind="error", status=500, times=1)
    customer = client.v1.customers.create({"email": email})
    assert _customers(client, email) == [customer.id]
    assert [r["status"] for r in _attempts(standin_server, since)] == [500, 200]
    assert standin_server.control("GET", "/_standin/faults")["data"] == []


def test_429_is_a_rate_limit_error(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    standin_server.fault(method="POST", path_prefix="/v1/customers", status=429, times=1)
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.customers.create({"email": email})
    assert caught.value.http_status == 429
    assert caught.value.error is not None
    assert caught.value.error.code == "rate_limit"
    assert _customers(client, email) == []


def test_disconnect_is_an_api_connection_error(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    since = _last_seq(standin_server)
    standin_server.fault(method="POST", path_prefix="/v1/customers", kind="disconnect")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create({"email": email})
    attempts = _attempts(standin_server, since)
    assert [r["status"] for r in attempts] == [0, 0, 0]
    standin_server.control("DELETE", "/_standin/faults")
    assert _customers(client, email) == []


def test_timeout_is_an_api_connection_error_and_does_nothing(
    standin_server: StandinServer, email: str
) -> None:
    impatient = standin_server.client(
        max_network_retries=0, http_client=stripe.RequestsClient(timeout=0.3)
    )
    since = _last_seq(standin_server)
    standin_server.fault(
        method="POST", path_prefix="/v1/customers", kind="timeout", latency_ms=5000, times=1
    )
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.customers.create({"email": email})
    # The client gave up on its own 0.3 s timeout, long before the stand-in would answer
    # (5 s: margin enough for a busy machine, where the 0.3 s may take a second or two).
    assert time.monotonic() - started < 5
    # The stand-in records the request once its sleeping handler has finished: then it must
    # still have done nothing (waited for, not slept on).
    wait_for(
        lambda: (
            [r for r in standin_server.requests(method="POST") if int(r["seq"]) > since] or None
        ),
        30,
        "the timed-out request to be recorded",
    )
    assert _customers(standin_server.client(), email) == []


def test_faults_only_match_their_filters(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    standin_server.fault(method="GET", path_prefix="/v1/customers", kind="error", status=500)
    customer = client.v1.customers.create({"email": email})
    assert client.v1.payment_methods.retrieve("pm_card_visa").type == "card"
    with pytest.raises(stripe.APIError):
        client.v1.customers.retrieve(customer.id)


def test_global_latency(standin_server: StandinServer, client: stripe.StripeClient) -> None:
    standin_server.control("POST", "/_standin/config", {"latency_ms": 250})
    started = time.monotonic()
    client.v1.payment_methods.retrieve("pm_card_visa")
    assert time.monotonic() - started >= 0.25


def test_request_log_filters_and_clear(standin_server: StandinServer) -> None:
    client = standin_server.client("sk_test_secret_never_logged")
    client.v1.payment_methods.retrieve("pm_card_visa", {"expand": ["customer"]})
    entry = standin_server.requests(method="GET", path_prefix="/v1/payment_methods/pm_card")[-1]
    assert entry["params"] == {"expand": ["customer"]}
    assert entry["status"] == 200
    assert set(entry) >= {"seq", "method", "path", "params", "idempotency_key", "status", "ts"}
    assert "sk_test_secret_never_logged" not in str(standin_server.requests())
    standin_server.control("DELETE", "/_standin/requests")
    assert standin_server.requests() == []


def test_rate_limit_refuses_what_exceeds_the_rate_with_stripes_429(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    since = _last_seq(standin_server)
    rule = standin_server.fault(kind="rate_limit", path_prefix="/v1/customers", per_second=3)

    def call(_: int) -> str:
        try:
            client.v1.customers.list({"email": email})
        except stripe.RateLimitError as exc:
            return str(exc.http_status)
        return "ok"

    # Twelve at once: even on a machine so busy that they straggle over a second, the bucket
    # (3 now, 3 more per second) cannot admit them all. Back to back, slow calls would refill it.
    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(call, range(12)))
    assert set(outcomes) == {"ok", "429"}
    assert outcomes.count("ok") >= 3
    statuses = [r["status"] for r in standin_server.requests() if int(r["seq"]) > since]
    # Each refusal is an answer in the log, and none is retried by the SDK (no should-retry).
    assert statuses.count(429) == outcomes.count("429")
    assert len(statuses) == 12
    listed = standin_server.control("GET", "/_standin/faults")["data"]
    assert [(r["id"], r["matched"]) for r in listed] == [(rule["id"], outcomes.count("429"))]
    # The bucket refills at the rate: a call after a wait on the condition "a token is back".
    wait_for(lambda: call(0) == "ok" or None, 30, "the bucket to refill")


def test_rate_limit_needs_a_positive_rate(standin_server: StandinServer) -> None:
    for bad in ({"kind": "rate_limit"}, {"kind": "rate_limit", "per_second": 0}):
        response = requests.post(f"{standin_server.url}/_standin/faults", json=bad, timeout=10)
        assert response.status_code == 400
        assert "per_second" in response.json()["error"]["message"]


def test_a_hold_freezes_a_request_until_released_while_others_run(
    client: stripe.StripeClient, standin_server: StandinServer, email: str
) -> None:
    rule = standin_server.fault(
        method="POST", path_prefix="/v1/customers", kind="hold", latency_ms=90_000, times=1
    )
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(client.v1.customers.create, {"email": email})
        wait_for(
            lambda: (
                standin_server.control("GET", f"/_standin/faults/{rule['id']}")["matched"] or None
            ),
            90,
            "the create to be held",
        )
        # Held, not refused: meanwhile other requests (the same path too) are answered.
        other = client.v1.customers.create({"email": f"other-{email}"})
        assert _customers(client, f"other-{email}") == [other.id]
        assert not held.done()
        assert _customers(client, email) == []
        released = standin_server.control("POST", f"/_standin/faults/{rule['id']}/release")
        assert released["released"] is True
        customer = held.result(timeout=90)
    assert _customers(client, email) == [customer.id]  # it went on as if never held


def test_a_hold_needs_its_longest_wait(standin_server: StandinServer) -> None:
    for latency in (None, 0, 120_001):
        response = requests.post(
            f"{standin_server.url}/_standin/faults",
            json={"kind": "hold", "latency_ms": latency},
            timeout=10,
        )
        assert response.status_code == 400
        assert "latency_ms" in response.json()["error"]["message"]
    response = requests.post(f"{standin_server.url}/_standin/faults/fault_999/release", timeout=10)
    assert response.status_code == 404
