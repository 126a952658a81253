"""Concurrent calls from one user: consistent defaults, one creation reported once.

Stripe latency is injected in the stand-in (``/_standin/config`` ``latency_ms``) so that
the calls overlap the way they do against the real API, and Stripe's contention is on
(tests/support/contention.py): writes to one object that overlap too long get 429
``lock_timeout``, which the SDK retries; one that outlasts its retries reaches the caller as
409 ``in_progress`` with ``Retry-After``; a call over test mode's 25 writes a second gets 429
``rate_limit``, which the SDK does not retry, and reaches the caller as 503 with
``Retry-After``. The caller (as the frontend does) tries again after it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.support.billing_flows import PRICE, saved_card, subscribe
from tests.support.contention import caller_was_told_to_retry, stripe_contention
from tests.support.stack_fixtures import StandIn, User

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _contention(standin: StandIn) -> Iterator[None]:
    with stripe_contention(standin, __name__):
        yield


@pytest.fixture
def stripe_latency(standin: StandIn) -> Iterator[Callable[[int], None]]:
    def set_latency(ms: int) -> None:
        standin.post("/_standin/config", {"latency_ms": ms})

    yield set_latency
    set_latency(0)


def _at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _until_done(call: Callable[[], requests.Response]) -> requests.Response:
    """What the frontend does: an answer that says "retry after N s" is retried: 409
    ``in_progress`` (a Stripe lock that outlasted the SDK's retries) and 503 (a Stripe rate limit,
    which the SDK does not retry); anything else is the answer."""
    deadline = time.monotonic() + 90
    while True:
        response = call()
        code = response.json().get("error", {}).get("code") if response.status_code >= 400 else None
        retry = (response.status_code, code) in (
            (409, "in_progress"),
            (503, "upstream_unavailable"),
        )
        if not retry or time.monotonic() > deadline:
            return response
        caller_was_told_to_retry(__name__, f"{response.status_code} {code}")
        time.sleep(float(response.headers["Retry-After"]))


def _switch(user: User, card: str) -> requests.Response:
    return _until_done(lambda: user.call("update-payment-method", {"payment_method_id": card}))


def _defaults(standin: StandIn, customer: str) -> tuple[str | None, dict[str, Any]]:
    settings = standin.sdk.v1.customers.retrieve(customer).invoice_settings
    assert settings is not None
    subs = standin.sdk.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    live = {s.id: s.default_payment_method for s in subs.data if s.status == "active"}
    return str(settings.default_payment_method), live


@pytest.mark.parametrize("latency_ms", [0, 40])
def test_concurrent_card_switches_leave_one_default_everywhere(
    user: User, standin: StandIn, stripe_latency: Callable[[int], None], latency_ms: int
) -> None:
    # Without convergence 3 of 15 rounds (40 ms) and 1 of 15 (0 ms) ended split.
    sub_id = subscribe(user, standin)["subscription_id"]
    cards = [
        saved_card(user, standin, "pm_card_visa"),
        saved_card(user, standin, "pm_card_mastercard"),
    ]
    customer = user.customer()
    stripe_latency(latency_ms)
    for round_ in range(8):
        order = [cards[(i + round_) % 2] for i in range(10)]
        responses = _at_once([functools.partial(_switch, user, card) for card in order])
        assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
        default, live = _defaults(standin, customer)
        assert default in cards, round_
        assert live == {sub_id: default}, f"round {round_}: customer {default}, subs {live}"


def test_20_concurrent_identical_subscribes_make_one_and_say_created_once(
    user: User, standin: StandIn, stripe_latency: Callable[[int], None]
) -> None:
    user.customer()
    stripe_latency(40)
    responses = _at_once(
        [
            lambda: _until_done(lambda: user.call("create-subscription", {"price_id": PRICE}))
            for _ in range(20)
        ]
    )
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert len({body["subscription_id"] for body in bodies}) == 1
    assert sum(body["created"] for body in bodies) == 1
    subs = standin.sdk.v1.subscriptions.list(params={"customer": user.customer(), "status": "all"})
    assert len(subs.data) == 1
