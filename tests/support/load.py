"""Many users at once, each behaving like the frontend: double clicks, and retrying what the
API says to retry (503 and 409 ``in_progress``, after ``Retry-After``)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.openapi_check import assert_matches
from tests.support.stack_fixtures import StandIn, User

RETRYABLE = {503, 409}


@dataclass
class Journey:
    """What one user saw: every answer, in order, and the final bodies."""

    user: User
    statuses: list[tuple[str, int]] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


def call_until_done(
    journey: Journey, function: str, body: dict[str, Any], budget_seconds: float = 60.0
) -> dict[str, Any]:
    """Calls ``function`` until it answers 200, as a well-behaved frontend would: after each
    retryable answer it waits at least ``Retry-After``, plus a random share of a backoff that
    doubles with each refusal (so clients that were refused together do not all come back in
    the same second and starve one another), and gives up after ``budget_seconds`` (a journey
    makes two such calls in a row, well inside the test's timeout)."""
    deadline = time.monotonic() + budget_seconds
    refusals = 0
    while True:
        response = journey.user.call(function, body, check_schema=False)
        journey.statuses.append((function, response.status_code))
        assert_matches(function, response.status_code, response.json())
        if response.status_code == 200:
            result: dict[str, Any] = response.json()
            return result
        code = response.json()["error"]["code"]
        retryable = response.status_code == 503 or code == "in_progress"
        assert response.status_code in RETRYABLE, response.text
        assert retryable, response.text
        assert "Retry-After" in response.headers, response.headers
        refusals += 1
        backoff = min(8.0, 0.25 * 2**refusals)
        wait = float(response.headers["Retry-After"]) + random.uniform(0, backoff)
        if time.monotonic() + wait > deadline:
            raise AssertionError(
                f"{function} never succeeded in {budget_seconds} s: {journey.statuses}"
            )
        time.sleep(wait)


def double_click(journey: Journey, function: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Two identical calls at once, each retried until done."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda _: call_until_done(journey, function, body), range(2)))


def sign_up_and_subscribe(journey: Journey) -> None:
    customers = double_click(journey, "create-customer", {"name": "Load"})
    assert len({c["customer_id"] for c in customers}) == 1, customers
    journey.results["customer"] = customers[0]
    subs = double_click(journey, "create-subscription", {"price_id": "price_basic_monthly"})
    assert len({s["subscription_id"] for s in subs}) == 1, subs
    journey.results["subscription"] = subs[0]


def run_all(journeys: list[Journey], step: Callable[[Journey], None]) -> None:
    with ThreadPoolExecutor(len(journeys)) as pool:
        for future in [pool.submit(step, journey) for journey in journeys]:
            future.result()


def assert_one_customer_and_subscription_each(standin: StandIn, journeys: list[Journey]) -> None:
    """Stripe's own state, read from the stand-in: no duplicate anywhere."""
    for journey in journeys:
        customers = standin.sdk.v1.customers.list({"email": journey.user.email, "limit": 100})
        assert [c.id for c in customers.data] == [journey.results["customer"]["customer_id"]]
        subs = standin.sdk.v1.subscriptions.list(
            {"customer": customers.data[0].id, "status": "all", "limit": 100}
        )
        assert [s.id for s in subs.data] == [journey.results["subscription"]["subscription_id"]]


def remaining_faults(standin: StandIn) -> list[dict[str, Any]]:
    response = requests.get(f"{standin.control}/_standin/faults", timeout=10)
    response.raise_for_status()
    rules: list[dict[str, Any]] = response.json()["data"]
    return rules
