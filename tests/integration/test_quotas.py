"""Quotas enforced exactly, against the real Firestore emulator (packages/billing-usage)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from google.cloud import firestore

from billing_usage import Decision, Limit, Quotas
from billing_usage.periods import calendar_month

pytestmark = pytest.mark.integration

FREE = {"api_calls": Limit(included=3, overage=False)}
# 2030-01-01 00:00 UTC .. 2030-02-01 00:00 UTC: a subscription period of the tests' own.
START, END = 1893456000, 1896134400


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def subject() -> str:
    return f"subject-{uuid.uuid4().hex[:12]}"


def subscribe(db: firestore.Client, who: str, limits: dict[str, Any]) -> None:
    db.collection("entitlements").document(who).set(
        {
            "uid": who,
            "active": True,
            "status": "active",
            "limits": limits,
            "usage_period": {"start": START, "end": END},
        },
        merge=True,
    )


def test_fifty_concurrent_consumes_with_one_unit_left_let_exactly_one_through(
    db: firestore.Client,
) -> None:
    quotas = Quotas(db, free_plan={"api_calls": Limit(included=10, overage=False)})
    who = subject()
    for n in range(9):
        assert quotas.consume(who, "api_calls", 1, f"warm-{n}").allowed
    with ThreadPoolExecutor(max_workers=50) as pool:
        decisions = list(
            pool.map(lambda n: quotas.consume(who, "api_calls", 1, f"race-{n}"), range(50))
        )
    assert sum(d.allowed for d in decisions) == 1
    assert quotas.check(who, "api_calls").used == 10


def test_concurrent_consumes_of_several_units_never_exceed_the_quota(
    db: firestore.Client,
) -> None:
    quotas = Quotas(db, free_plan={"api_calls": Limit(included=10, overage=False)})
    who = subject()
    with ThreadPoolExecutor(max_workers=20) as pool:
        decisions = list(
            pool.map(lambda n: quotas.consume(who, "api_calls", 3, f"race-{n}"), range(20))
        )
    assert sum(d.allowed for d in decisions) == 3  # 9 of 10 units; a fourth 3 would not fit
    assert quotas.check(who, "api_calls").used == 9


def test_a_consume_repeated_with_its_usage_id_counts_once(db: firestore.Client) -> None:
    quotas = Quotas(db, free_plan=FREE)
    who = subject()
    first = quotas.consume(who, "api_calls", 2, "job-1")
    again = quotas.consume(who, "api_calls", 2, "job-1")
    assert (first.allowed, first.replayed, first.used) == (True, False, 2)
    assert (again.allowed, again.replayed, again.used) == (True, True, 2)


def test_a_refused_consume_counts_nothing(db: firestore.Client) -> None:
    quotas = Quotas(db, free_plan=FREE)
    who = subject()
    refused = quotas.consume(who, "api_calls", 4, "too-many")
    assert not refused.allowed
    assert (refused.used, refused.remaining) == (0, 3)
    assert quotas.consume(who, "api_calls", 3, "fits").allowed


def test_a_subject_without_a_subscription_counts_in_the_free_plans_calendar_month(
    db: firestore.Client,
) -> None:
    clock = Clock(1896134400 + 86400 * 10.5)  # 2030-02-11 12:00 UTC
    quotas = Quotas(db, free_plan=FREE, clock=clock)
    decision = quotas.consume(subject(), "api_calls", 1, "one")
    month = calendar_month(clock.now)
    assert (decision.included, decision.period_start, decision.period_end) == (
        3,
        month.start,
        month.end,
    )
    assert decision.period_start == 1896134400  # 2030-02-01 00:00 UTC


def test_a_meter_the_plan_has_no_quota_for_is_refused(db: firestore.Client) -> None:
    decision = Quotas(db, free_plan=FREE).consume(subject(), "exports", 1, "x")
    assert not decision.allowed
    assert decision.included is None


def test_counts_reset_at_the_subscription_periods_boundary(db: firestore.Client) -> None:
    who = subject()
    subscribe(db, who, {"api_calls": {"included": 2, "overage": False}})
    clock = Clock(END - 60)
    quotas = Quotas(db, free_plan=FREE, clock=clock)
    assert quotas.consume(who, "api_calls", 2, "late-in-period").allowed
    assert not quotas.consume(who, "api_calls", 1, "over").allowed
    clock.now = END + 1  # the renewal's sync has not written the new period yet
    renewed = quotas.consume(who, "api_calls", 1, "next-period")
    assert renewed.allowed
    assert (renewed.used, renewed.period_start) == (1, END)


def test_limits_follow_a_plan_change_within_the_period(db: firestore.Client) -> None:
    who = subject()
    subscribe(db, who, {"api_calls": {"included": 2, "overage": False}})
    quotas = Quotas(db, free_plan=FREE, clock=Clock(START + 3600))
    assert quotas.consume(who, "api_calls", 2, "a").allowed
    assert not quotas.consume(who, "api_calls", 1, "b").allowed
    db.collection("entitlements").document(who).update(
        {"limits": {"api_calls": {"included": 5, "overage": False}}}
    )
    upgraded = quotas.consume(who, "api_calls", 3, "b")
    assert (upgraded.allowed, upgraded.used, upgraded.remaining) == (True, 5, 0)


def test_a_plan_with_a_metered_price_allows_usage_beyond_its_included_units(
    db: firestore.Client,
) -> None:
    who = subject()
    subscribe(db, who, {"api_calls": {"included": 1, "overage": True}})
    quotas = Quotas(db, free_plan=FREE, clock=Clock(START + 60))
    decisions: list[Decision] = [quotas.consume(who, "api_calls", 1, f"u{n}") for n in range(3)]
    assert all(d.allowed for d in decisions)
    assert (decisions[-1].used, decisions[-1].remaining) == (3, 0)


@pytest.mark.parametrize("units", [0, -1, True])
def test_consume_refuses_units_that_are_not_a_positive_whole_number(
    db: firestore.Client, units: Any
) -> None:
    from billing_usage import InvalidUsage

    with pytest.raises(InvalidUsage, match="units"):
        Quotas(db, free_plan=FREE).consume(subject(), "api_calls", units, "x")


class Publisher:
    """Records what was published; fails the first ``failures`` publishes."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> Any:
        from concurrent.futures import Future

        future: Future[str] = Future()
        if self.failures:
            self.failures -= 1
            future.set_exception(TimeoutError("deadline exceeded"))
        else:
            self.sent.append((topic, data, attributes))
            future.set_result(str(len(self.sent)))
        return future


TOPIC = "projects/demo-billing/topics/usage"


def test_use_reports_only_usage_the_quota_allowed(db: firestore.Client) -> None:
    from billing_usage import Usage

    publisher = Publisher()
    usage = Usage(db, publisher, TOPIC, free_plan=FREE)
    who = subject()
    assert usage.use(subject=who, meter="api_calls", units=3, id="big").allowed
    assert not usage.use(subject=who, meter="api_calls", units=1, id="over").allowed
    assert [attrs["id"] for _, _, attrs in publisher.sent] == ["big"]


def test_use_retried_after_a_failed_publish_counts_once_and_reports_again(
    db: firestore.Client,
) -> None:
    from billing_usage import PublishFailed, Usage

    publisher = Publisher(failures=1)
    usage = Usage(db, publisher, TOPIC, free_plan=FREE)
    who = subject()
    with pytest.raises(PublishFailed, match="not confirmed"):
        usage.use(subject=who, meter="api_calls", units=2, id="job-9")
    retried = usage.use(subject=who, meter="api_calls", units=2, id="job-9")
    assert (retried.allowed, retried.replayed, retried.used) == (True, True, 2)
    assert [json.loads(data)["id"] for _, data, _ in publisher.sent] == ["job-9"]


def test_a_meter_name_with_a_dot_is_one_field_not_a_nested_path(db: firestore.Client) -> None:
    quotas = Quotas(db, free_plan={"api.calls": Limit(included=2, overage=False)})
    who = subject()
    assert quotas.consume(who, "api.calls", 1, "first").allowed  # creates the period document
    assert quotas.consume(who, "api.calls", 1, "second").allowed  # updates it
    assert not quotas.consume(who, "api.calls", 1, "third").allowed
    assert quotas.check(who, "api.calls").used == 2


def test_a_subject_whose_subscription_ended_counts_against_the_limits_its_entitlement_carries(
    db: firestore.Client,
) -> None:
    who = subject()
    # What the entitlement sync writes without access: the catalog's free plan, not active.
    db.collection("entitlements").document(who).set(
        {"uid": who, "active": False, "limits": {"api_calls": {"included": 1, "overage": False}}}
    )
    quotas = Quotas(db, free_plan=FREE, clock=Clock(START + 60))
    assert quotas.consume(who, "api_calls", 1, "a").allowed
    refused = quotas.consume(who, "api_calls", 1, "b")
    assert (refused.allowed, refused.included, refused.period_start) == (False, 1, START)
