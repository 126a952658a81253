"""get-usage: the caller's own usage and limits per meter this period; the free plan for a
signed-in user without a subscription (from the catalog's free_plan)."""

from __future__ import annotations

import pytest
from google.cloud import firestore

from billing import catalog
from billing_usage import Limit, Quotas
from tests.support.billing_flows import subscribe
from tests.support.mode import PRICE
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import entitlement, wait_until

pytestmark = pytest.mark.integration


def _free() -> dict[str, Limit]:
    loaded = catalog.load()
    assert loaded.free_plan is not None, "the catalog has a free plan"
    assert loaded.free_plan.limits, "the free plan has a quota"
    return {
        loaded.meters[key].event_name: Limit(included, overage=False)
        for key, included in loaded.free_plan.limits.items()
    }


def test_a_user_without_a_subscription_has_the_free_plan_and_sees_its_usage(
    user: User, other_user: User, db: firestore.Client
) -> None:
    free = _free()
    meter, limit = next(iter(free.items()))
    before = user.ok("get-usage", {})
    assert before["plan"] == "free"
    assert before["features"] == sorted(catalog.load().free_plan.features)  # type: ignore[union-attr]
    assert {m["meter"]: (m["used"], m["included"], m["overage"]) for m in before["meters"]}[
        meter
    ] == (0, limit.included, False)
    assert Quotas(db, free_plan=free).consume(user.uid, meter, 3, "first-use").allowed
    after = {m["meter"]: m for m in user.ok("get-usage", {})["meters"]}[meter]
    assert (after["used"], after["remaining"]) == (3, limit.included - 3)
    # Another user's answer is their own: usage is never shared or addressable.
    theirs = {m["meter"]: m for m in other_user.ok("get-usage", {})["meters"]}[meter]
    assert theirs["used"] == 0


def test_get_usage_names_no_other_subject(user: User) -> None:
    response = user.call("get-usage", {"uid": "someone-else"})
    assert response.status_code == 400


def test_get_usage_needs_a_signed_in_caller(user: User) -> None:
    response = user.api.call("get-usage", {})
    assert response.status_code == 401


def test_a_subscribers_entitlement_carries_its_plans_quota_and_period(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    subscribe(user, standin)
    found = wait_until(
        lambda: (e := entitlement(db, user.uid)) and e.get("active") and e,
        what="the paid entitlement",
        timeout=90,
    )
    lookup_key = standin.sdk.v1.prices.retrieve(PRICE).lookup_key
    assert lookup_key is not None
    product = catalog.load().prices[lookup_key].product
    included = catalog.load().products[product].limits
    billed = catalog.load().meters_billed(lookup_key)  # its metered prices bill beyond
    assert billed, "the catalog's plans bill usage beyond their quota"
    assert found["limits"] == {
        catalog.load().meters[key].event_name: {"included": units, "overage": key in billed}
        for key, units in included.items()
    }
    period = found["usage_period"]
    assert period["start"] < period["end"] == found["current_period_end"]
    answer = user.ok("get-usage", {})
    assert answer["plan"] == "subscription"
    assert (answer["period_start"], answer["period_end"]) == (period["start"], period["end"])
