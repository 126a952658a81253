"""list-plans: the offered plans from Stripe's catalog, public and cacheable."""

from __future__ import annotations

import requests

from devstack.stack import Stack, StackInfo
from tests.support.openapi_check import assert_matches
from tests.support.stack_fixtures import StandIn, extra_function
from tests.support.webhooks import wait_until


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=60)


def test_anyone_reads_the_offered_plans_from_stripes_catalog(stack: StackInfo) -> None:
    response = _get(stack.function_url("list_plans"), Origin="https://elsewhere.example")
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches("list-plans", 200, body, method="get")
    plans = {plan["price_id"]: plan for plan in body["plans"]}
    assert list(plans) == ["price_basic_monthly", "price_pro_monthly", "price_pro_yearly"]
    basic, yearly = plans["price_basic_monthly"], plans["price_pro_yearly"]
    assert (basic["product_name"], basic["unit_amount"], basic["currency"]) == ("Basic", 999, "usd")
    assert (basic["interval"], basic["interval_count"]) == ("month", 1)
    assert [f["lookup_key"] for f in basic["features"]] == ["reports"]
    assert (yearly["unit_amount"], yearly["interval"]) == (29000, "year")
    assert {f["lookup_key"] for f in yearly["features"]} == {
        "reports",
        "api_access",
        "priority_support",
    }
    assert "price_legacy_monthly" not in plans, "a catalog price the app does not sell"
    # Use beyond the quota, shown before paying: the catalog's Basic includes 1,000 API calls,
    # then 2 cents each (its metered price's graduated tiers, read with expand[]=tiers).
    [usage] = basic["metered"]
    assert usage["price_id"] == "price_basic_api_calls_monthly"
    assert (usage["meter"], usage["meter_name"]) == ("api_calls", "API calls")
    assert (usage["included"], usage["unit_amount_decimal"], usage["per_units"]) == (1000, "2", 1)
    assert (yearly["metered"][0]["included"], yearly["metered"][0]["unit_amount_decimal"]) == (
        10000,
        "1",
    )
    assert body["stale"] is False
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    cache = response.headers["Cache-Control"]
    assert cache.startswith("public, max-age=")
    assert 0 <= int(cache.removeprefix("public, max-age=")) <= 300
    assert body["max_age"] == int(cache.removeprefix("public, max-age="))


def test_only_get_reads_it(stack: StackInfo) -> None:
    refused = requests.post(stack.function_url("list_plans"), json={}, timeout=60)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert refused.headers["Cache-Control"] == "no-store"


def test_stripe_is_read_once_per_cache_period(
    running_stack: Stack, standin: StandIn, stack: StackInfo
) -> None:
    with extra_function(running_stack, "list_plans", {"PRICING_CACHE_SECONDS": "300"}) as url:
        before = len(standin.requests(method="GET", path_prefix="/v1/prices"))
        first, second = _get(url).json(), _get(url).json()
        after = len(standin.requests(method="GET", path_prefix="/v1/prices"))
    assert after - before == 6, "one read per offered price and its metered price, once"
    assert first["fetched_at"] == second["fetched_at"]
    with extra_function(running_stack, "list_plans", {"PRICING_CACHE_SECONDS": "0"}) as url:
        before = len(standin.requests(method="GET", path_prefix="/v1/prices"))
        answers = [_get(url) for _ in range(2)]
        # The second request holds a copy, so it waits for Stripe at most a few seconds and
        # its read may finish after its answer on a loaded machine: wait for the reads.
        wait_until(
            lambda: (
                len(standin.requests(method="GET", path_prefix="/v1/prices")) - before >= 12 or None
            ),
            "the second answer's catalog read",
        )
        after = len(standin.requests(method="GET", path_prefix="/v1/prices"))
    assert after - before == 12, "no cache: every answer is Stripe's catalog as it is now"
    assert all(a.headers["Cache-Control"] == "public, max-age=0" for a in answers)


def test_stripe_down_serves_the_last_good_copy_and_503_only_without_one(
    running_stack: Stack, faults: StandIn, stack: StackInfo
) -> None:
    faults.fault(method="GET", path_prefix="/v1/prices", kind="error", status=500, times=50)
    # PRICING_CACHE_SECONDS=0: every request reads Stripe, so the outage is met each time.
    with extra_function(running_stack, "list_plans", {"PRICING_CACHE_SECONDS": "0"}) as url:
        response = _get(url)
        assert response.status_code == 503, "an instance that never read the catalog"
        assert response.headers["Cache-Control"] == "no-store"
        # The outage's answer says when to come back (errors.UpstreamUnavailable).
        assert int(response.headers["Retry-After"]) > 0
        faults.clear_faults()
        good = _get(url)
        assert good.status_code == 200
        assert good.json()["stale"] is False
        faults.fault(method="GET", path_prefix="/v1/prices", kind="error", status=500, times=50)
        stale = _get(url)
        assert stale.status_code == 200, stale.text
        body = stale.json()
        assert (body["stale"], body["fetched_at"]) == (True, good.json()["fetched_at"])
        assert body["plans"] == good.json()["plans"]
        assert body["age"] >= 0
        # Kept by browsers no longer than until Stripe is tried again.
        assert 0 <= body["max_age"] <= 15
        assert stale.headers["Cache-Control"] == f"public, max-age={body['max_age']}"


def test_a_browser_that_sends_its_token_passes_the_preflight(stack: StackInfo) -> None:
    preflight = requests.options(
        stack.function_url("list_plans"),
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=60,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
