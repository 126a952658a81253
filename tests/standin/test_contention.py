"""Contention and rate limits, as Stripe answers them (contention.py): opt-in, for the tests
about concurrency."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import stripe

from tests.standin.conftest import StandinServer

BASIC, PRO = "price_basic_monthly", "price_pro_monthly"


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs ``calls`` together; each answer, or the exception it raised."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return call()
        except stripe.StripeError as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _rename(client: stripe.StripeClient, customer: str, name: str) -> stripe.Customer:
    return client.v1.customers.update(customer, {"name": name})


def _contention(server: StandinServer, latency_ms: int, lock_timeout_ms: int) -> None:
    server.control(
        "POST", "/_standin/config", {"latency_ms": latency_ms, "lock_timeout_ms": lock_timeout_ms}
    )


def test_a_write_that_waits_too_long_for_an_object_gets_429_lock_timeout(
    standin_server: StandinServer, email: str
) -> None:
    customer = standin_server.client().v1.customers.create({"email": email})
    _contention(standin_server, latency_ms=400, lock_timeout_ms=50)
    no_retry = standin_server.client(max_network_retries=0)
    answers = _at_once(
        [functools.partial(_rename, no_retry, customer.id, f"n{n}") for n in range(2)]
    )
    [refused] = [a for a in answers if isinstance(a, stripe.StripeError)]
    assert isinstance(refused, stripe.RateLimitError)
    # stripe-python sets no ``code`` on a RateLimitError; the error body carries it.
    assert refused.error is not None
    assert (refused.http_status, refused.error.code) == (429, "lock_timeout")
    assert refused.headers is not None
    assert refused.headers.get("Stripe-Should-Retry") == "true"
    assert isinstance(refused.json_body, dict)
    error = refused.json_body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("This object cannot be accessed right now because")
    assert error["doc_url"].endswith("#lock-timeout")


def test_the_sdk_retries_a_lock_timeout_with_the_same_key_and_both_writes_land(
    standin_server: StandinServer, email: str
) -> None:
    customer = standin_server.client().v1.customers.create({"email": email})
    _contention(standin_server, latency_ms=150, lock_timeout_ms=20)
    client = standin_server.client(max_network_retries=4)
    answers = _at_once([functools.partial(_rename, client, customer.id, f"n{n}") for n in range(3)])
    assert all(isinstance(a, stripe.Customer) for a in answers), answers
    log = standin_server.requests(method="POST", path_prefix=f"/v1/customers/{customer.id}")
    refused = [r for r in log if r["status"] == 429]
    assert refused, "the writes never contended"
    for r in refused:  # each refusal was tried again with its key, and that try landed
        again = [x for x in log if x["idempotency_key"] == r["idempotency_key"]]
        assert again[-1]["status"] == 200


def test_reads_and_other_objects_do_not_wait_for_a_lock(
    standin_server: StandinServer, email: str
) -> None:
    client = standin_server.client()
    one = client.v1.customers.create({"email": email})
    other = client.v1.customers.create({"email": email})
    _contention(standin_server, latency_ms=300, lock_timeout_ms=20)
    no_retry = standin_server.client(max_network_retries=0)
    answers = _at_once(
        [
            lambda: no_retry.v1.customers.update(one.id, {"name": "a"}),
            lambda: no_retry.v1.customers.retrieve(one.id),
            lambda: no_retry.v1.customers.update(other.id, {"name": "b"}),
        ]
    )
    assert [type(a) for a in answers] == [stripe.Customer] * 3, answers


def test_without_the_option_writes_to_one_object_simply_take_turns(
    standin_server: StandinServer, email: str
) -> None:
    customer = standin_server.client().v1.customers.create({"email": email})
    standin_server.control("POST", "/_standin/config", {"latency_ms": 100})
    no_retry = standin_server.client(max_network_retries=0)
    answers = _at_once(
        [functools.partial(_rename, no_retry, customer.id, f"n{n}") for n in range(4)]
    )
    assert all(isinstance(a, stripe.Customer) for a in answers), answers


def test_test_mode_rate_limit_refuses_past_25_a_second_and_the_sdk_does_not_retry(
    standin_server: StandinServer, email: str
) -> None:
    customer = standin_server.client().v1.customers.create({"email": email})
    standin_server.control("DELETE", "/_standin/requests")
    standin_server.control("POST", "/_standin/config", {"rate_limits": True})
    client = standin_server.client(max_network_retries=2)

    def reads_until_refused() -> list[Any]:
        """Up to 25 reads in a row, stopping at the first refusal."""
        answers: list[Any] = []
        for _ in range(25):
            try:
                answers.append(client.v1.customers.retrieve(customer.id))
            except stripe.RateLimitError as refused:
                answers.append(refused)
                break
        return answers

    # Ten readers at once: far more than 25 reads a second on any machine.
    answers = [a for batch in _at_once([reads_until_refused] * 10) for a in batch]
    refused = [a for a in answers if isinstance(a, stripe.RateLimitError)]
    assert refused, f"{len(answers)} reads at once all passed a 25-a-second limit"
    assert len(answers) - len(refused) >= 25  # a full second's worth passed first
    assert {
        (r.error and r.error.code, (r.headers or {}).get("Stripe-Should-Retry")) for r in refused
    } == {("rate_limit", None)}
    # Not retried by the SDK: one request for each answer.
    assert len(standin_server.requests(method="GET", path_prefix="/v1/customers/")) == len(answers)


def test_a_subscription_gets_at_most_10_new_invoices_a_minute(
    standin_server: StandinServer, email: str
) -> None:
    client = standin_server.client()
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": BASIC}]})
    item = sub.items.data[0].id
    standin_server.control("POST", "/_standin/config", {"rate_limits": True})

    def change(price: str) -> stripe.Subscription:
        return client.v1.subscriptions.update(
            sub.id,
            {
                "items": [{"id": item, "price": price}],
                "proration_behavior": "always_invoice",
                "payment_behavior": "pending_if_incomplete",
            },
        )

    for n in range(9):  # the first invoice and nine plan changes: ten this minute
        change(PRO if n % 2 == 0 else BASIC)
    with pytest.raises(stripe.RateLimitError) as refused:
        change(BASIC)
    assert refused.value.error is not None
    assert refused.value.error.code == "rate_limit"
    assert "10 new invoices a minute" in str(refused.value.user_message)
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].price.id == PRO  # unchanged
    standin_server.advance(61)
    assert change(BASIC).items.data[0].price.id == BASIC


def test_the_options_are_validated(standin_server: StandinServer) -> None:
    for bad in ({"lock_timeout_ms": -1}, {"lock_timeout_ms": True}, {"rate_limits": 1}):
        answer = requests.post(f"{standin_server.url}/_standin/config", json=bad, timeout=10)
        assert answer.status_code == 400, bad
