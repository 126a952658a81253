"""list-plans' metered prices: what a pricing page says about use beyond the quota, read from
a metered price as Stripe answers it with ``expand[]=tiers``."""

from __future__ import annotations

from typing import Any

from billing.operations.pricing import metered_price

METERS = {"mtr_api": {"id": "mtr_api", "event_name": "api_calls", "display_name": "API calls"}}


def _price(**fields: Any) -> dict[str, Any]:
    return {
        "id": "price_m",
        "currency": "usd",
        "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_api"},
        "tiers": None,
        "transform_quantity": None,
        "unit_amount": None,
        "unit_amount_decimal": None,
        **fields,
    }


def _tier(up_to: int | None, unit: str, flat: int | None = None) -> dict[str, Any]:
    return {
        "up_to": up_to,
        "unit_amount": None,
        "unit_amount_decimal": unit,
        "flat_amount": flat,
        "flat_amount_decimal": None,
    }


def test_leading_free_tiers_are_the_included_units_and_the_next_tier_the_overage() -> None:
    shown = metered_price(_price(tiers=[_tier(1000, "0"), _tier(None, "2")]), METERS)
    assert (shown.meter, shown.meter_name) == ("api_calls", "API calls")
    assert (shown.included, shown.unit_amount_decimal, shown.per_units) == (1000, "2", 1)
    assert [t.up_to for t in shown.tiers] == [1000, None]


def test_a_free_tier_with_a_flat_fee_is_not_included() -> None:
    shown = metered_price(_price(tiers=[_tier(1000, "0", flat=500), _tier(None, "1")]), METERS)
    assert (shown.included, shown.unit_amount_decimal) == (0, "0")
    assert shown.tiers[0].flat_amount == 500


def test_a_per_unit_price_per_thousand_has_nothing_included() -> None:
    shown = metered_price(
        _price(unit_amount_decimal="0.5", transform_quantity={"divide_by": 1000, "round": "up"}),
        METERS,
    )
    assert (shown.included, shown.unit_amount_decimal, shown.per_units) == (0, "0.5", 1000)
    assert shown.tiers == []
