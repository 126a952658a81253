"""DOWNGRADE_POLICY: which plan changes wait for the period end, and what the entitlement says
while one waits (billing.operations._schedules, billing.stripe_api.schedule)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from billing.config import BillingSettings
from billing.entitlements.sync import already_says, evaluate
from billing.operations._schedules import at_period_end, is_downgrade, yearly_amount
from billing.stripe_api.schedule import scheduled_change
from tests.unit.billing.entitlements.test_refresh import CUSTOMER, NOW, PERIOD_END, UID, _sub


def _price(amount: int, interval: str = "month", count: int = 1, currency: str = "usd") -> Any:
    return stripe.Price.construct_from(
        {
            "id": f"price_{amount}_{interval}{count}",
            "object": "price",
            "unit_amount": amount,
            "currency": currency,
            "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"},
        },
        "sk_test_x",
    )


PRO, BASIC = _price(2900), _price(999)


def test_yearly_amounts_normalize_the_interval() -> None:
    assert yearly_amount(2900, "month", 1) == 34_800
    assert yearly_amount(29_000, "year", 1) == 29_000
    assert yearly_amount(900, "month", 3) == 3_600
    assert yearly_amount(100, "week", 2) == 2_600


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (PRO, BASIC, True),  # cheaper, same interval
        (BASIC, PRO, False),  # an upgrade
        (PRO, _price(2900), False),  # an equal amount is not a downgrade
        (_price(2900), _price(29_000, "year"), False),  # interval switch: Stripe bills now
        (_price(29_000, "year"), _price(999), False),  # interval switch the other way too
        (_price(2700, "month", 3), _price(2400, "month", 3), True),  # quarterly, cheaper
        (PRO, _price(999, currency="eur"), False),  # another currency: not comparable
    ],
)
def test_a_downgrade_is_a_lower_yearly_amount_at_the_same_interval(
    current: Any, new: Any, expected: bool
) -> None:
    assert is_downgrade(current, new) is expected


def test_the_policy_decides_and_immediately_is_the_default(settings: BillingSettings) -> None:
    assert settings.downgrade_policy == "immediately"
    assert not at_period_end(settings, PRO, BASIC)
    later = settings.model_copy(update={"downgrade_policy": "period_end"})
    assert at_period_end(later, PRO, BASIC)
    assert not at_period_end(later, BASIC, PRO)


def test_an_unknown_policy_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOWNGRADE_POLICY", "next_month")
    with pytest.raises(Exception, match="DOWNGRADE_POLICY"):
        BillingSettings.load()


def _scheduled(current_end: int, *, status: str = "active", last_phase: bool = False) -> Any:
    phases = [
        {"start_date": NOW - 100, "end_date": PERIOD_END,
         "items": [{"price": "price_pro_monthly", "quantity": 1},
                   {"price": "price_pro_api_calls_monthly"}]},
        {"start_date": PERIOD_END, "end_date": PERIOD_END + 30 * 86_400,
         "items": [{"price": "price_pro_api_calls_x"},  # metered first: no quantity
                   {"price": "price_basic_monthly", "quantity": 1}]},
    ]  # fmt: skip
    start = PERIOD_END if last_phase else NOW - 100
    return {
        "id": "sub_sched_1",
        "object": "subscription_schedule",
        "status": status,
        "current_phase": {"start_date": start, "end_date": current_end},
        "phases": phases,
    }


def test_the_pending_plan_is_the_licensed_item_of_the_phase_after_the_current_one() -> None:
    assert scheduled_change(_sub(schedule=_scheduled(PERIOD_END))) == (
        "price_basic_monthly", PERIOD_END,
    )  # fmt: skip
    # Its last phase running (the change made), released, or not expanded: nothing pending.
    assert (
        scheduled_change(_sub(schedule=_scheduled(PERIOD_END + 30 * 86_400, last_phase=True)))
        is None
    )
    assert scheduled_change(_sub(schedule=_scheduled(PERIOD_END, status="released"))) is None
    assert scheduled_change(_sub(schedule="sub_sched_1")) is None
    assert scheduled_change(_sub(schedule=None)) is None


def test_the_entitlement_keeps_the_current_plan_and_records_the_pending_one(
    settings: BillingSettings,
) -> None:
    entitlement = evaluate(
        UID, CUSTOMER, [_sub(schedule=_scheduled(PERIOD_END))], ["api_access"], settings, NOW
    )
    assert (entitlement.price_id, entitlement.features) == ("price_pro_monthly", ["api_access"])
    assert (entitlement.pending_price_id, entitlement.pending_from) == (
        "price_basic_monthly", PERIOD_END,
    )  # fmt: skip
    plain = evaluate(UID, CUSTOMER, [_sub()], ["api_access"], settings, NOW)
    assert (plain.pending_price_id, plain.pending_from) == (None, None)


def test_an_event_naming_a_schedule_it_does_not_show_always_refreshes(
    settings: BillingSettings,
) -> None:
    document = evaluate(UID, CUSTOMER, [_sub()], ["api_access"], settings, NOW).document()
    assert already_says(document, UID, CUSTOMER, _sub(), settings, NOW)
    assert not already_says(document, UID, CUSTOMER, _sub(schedule="sub_sched_1"), settings, NOW)
