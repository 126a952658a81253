"""Which Stripe state grants access, until when, and with which features (configuration)."""

from __future__ import annotations

from typing import Any

import pytest

from billing.config import BillingSettings
from billing.entitlements.sync import evaluate
from billing.statuses import DAY

NOW = 1_800_000_000
PERIOD_END = NOW + 20 * DAY


def _sub(status: str, *, created: int = NOW - 100, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"sub_{status}_{created}",
        "object": "subscription",
        "status": status,
        "created": created,
        "cancel_at_period_end": False,
        "trial_end": None,
        "latest_invoice": None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "current_period_end": PERIOD_END,
                    "price": {"id": "price_pro_monthly", "object": "price", "product": "prod_pro"},
                }
            ],
        },
    }
    data.update(extra)
    return data  # as Stripe's API sends it: the sync reads the JSON, not the SDK's objects


def _past_due(finalized_days_ago: float) -> dict[str, Any]:
    finalized = int(NOW - finalized_days_ago * DAY)
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "created": finalized - 3600,
        "status_transitions": {"finalized_at": finalized},
    }
    return _sub("past_due", latest_invoice=invoice)


@pytest.mark.parametrize(
    ("status", "active"),
    [
        ("active", True),
        ("trialing", True),
        ("incomplete", False),
        ("incomplete_expired", False),
        ("unpaid", False),
        ("paused", False),
        ("canceled", False),
    ],
)
def test_status_decides_access(status: str, active: bool, settings: BillingSettings) -> None:
    state = evaluate("u1", "cus_1", [_sub(status)], ["api_access"], settings, NOW)
    assert state.active is active
    assert state.status == status
    assert state.features == (["api_access"] if active else [])
    assert state.valid_until == (PERIOD_END if active else None)


def test_past_due_keeps_access_for_the_grace_days_then_loses_it(settings: BillingSettings) -> None:
    grace = settings.past_due_grace_days
    assert grace == 7
    inside = evaluate("u1", "cus_1", [_past_due(grace - 1)], ["reports"], settings, NOW)
    assert inside.active is True
    assert inside.features == ["reports"]
    assert inside.valid_until == inside.past_due_since + grace * DAY  # type: ignore[operator]
    after = evaluate("u1", "cus_1", [_past_due(grace + 0.1)], ["reports"], settings, NOW)
    assert after.active is False
    assert after.features == []


def test_access_statuses_are_configuration(settings: BillingSettings) -> None:
    strict = settings.model_copy(update={"access_statuses": ["active"]})
    assert evaluate("u1", "cus_1", [_past_due(0.5)], [], strict, NOW).active is False
    assert evaluate("u1", "cus_1", [_sub("trialing")], [], strict, NOW).active is False
    lenient = settings.model_copy(update={"access_statuses": ["active", "paused"]})
    assert evaluate("u1", "cus_1", [_sub("paused")], [], lenient, NOW).active is True


def test_a_trial_is_valid_until_it_ends(settings: BillingSettings) -> None:
    state = evaluate("u1", "cus_1", [_sub("trialing", trial_end=NOW + 3 * DAY)], [], settings, NOW)
    assert state.valid_until == NOW + 3 * DAY


def test_the_live_subscription_wins_over_newer_ended_ones(settings: BillingSettings) -> None:
    subs = [
        _sub("incomplete_expired", created=NOW - 10),
        _sub("active", created=NOW - 1000),
        _sub("canceled", created=NOW - 5),
    ]
    state = evaluate("u1", "cus_1", subs, [], settings, NOW)
    assert (state.status, state.active) == ("active", True)


def test_without_any_subscription_there_is_no_access(settings: BillingSettings) -> None:
    state = evaluate("u1", "cus_1", [], ["reports"], settings, NOW)
    assert (state.status, state.active, state.features) == ("none", False, [])


def test_unknown_access_statuses_are_refused_at_start() -> None:
    from billing.config import load_settings
    from billing.errors import ConfigError

    with pytest.MonkeyPatch.context() as env:
        env.setenv("GOOGLE_CLOUD_PROJECT", "demo-billing")
        env.setenv("ACCESS_STATUSES", "active,paid")
        with pytest.raises(ConfigError, match="ACCESS_STATUSES: paid: not Stripe"):
            load_settings()


def _just_paid(paid_seconds_ago: int) -> dict[str, Any]:
    invoice = {
        "id": "in_paid",
        "object": "invoice",
        "created": NOW - paid_seconds_ago - 5,
        "status": "paid",
        "status_transitions": {
            "finalized_at": NOW - paid_seconds_ago - 5,
            "paid_at": NOW - paid_seconds_ago,
        },
    }
    sub = _sub("active", latest_invoice=invoice)
    sub["items"]["data"][0]["price"]["lookup_key"] = "pro_monthly"
    return sub


def test_features_lagging_a_fresh_payment_are_the_plans_not_none(
    settings: BillingSettings,
) -> None:
    """Issue 15, point 12: Stripe's entitlement list, still empty right after the payment, does
    not make the document "active with no features": the plan's catalog features stand in."""
    fresh = evaluate("u", "cus_1", [_just_paid(30)], [], settings, NOW)
    assert (fresh.active, fresh.features) == (True, ["api_access", "priority_support", "reports"])
    # Stripe's own list, once there, is what counts (a feature removed in the Dashboard too).
    listed = evaluate("u", "cus_1", [_just_paid(30)], ["reports"], settings, NOW)
    assert listed.features == ["reports"]
    # Long after the payment an empty list is Stripe's answer, not a lag.
    old = evaluate("u", "cus_1", [_just_paid(3600)], [], settings, NOW)
    assert (old.active, old.features) == (True, [])


def test_a_payment_stamped_ahead_of_this_instances_clock_is_just_paid(
    settings: BillingSettings,
) -> None:
    """paid_at is Stripe's time (a test clock moved ahead, or skew): ahead of the wall clock it
    is a fresh payment, never read as long ago (an integration run found features [] here)."""
    ahead = evaluate("u", "cus_1", [_just_paid(-40 * 86_400)], [], settings, NOW)
    assert (ahead.active, ahead.features) == (True, ["api_access", "priority_support", "reports"])
