"""The catalog's rules for plans with usage, each refused by name when broken."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from billing import catalog

RAW: dict[str, Any] = json.loads(catalog.CATALOG_PATH.read_text())


def _broken(change: Callable[[dict[str, Any]], object]) -> str:
    data = copy.deepcopy(RAW)
    change(data)
    with pytest.raises(catalog.CatalogError) as refused:
        catalog.parse(json.dumps(data))
    return str(refused.value)


def test_the_real_catalog_has_plans_with_metered_prices() -> None:
    loaded = catalog.load()
    assert loaded.metered_prices_of("pro_monthly") == ["pro_api_calls_monthly"]
    assert loaded.metered_prices_of("basic_monthly") == ["basic_api_calls_monthly"]
    assert loaded.metered_prices_of("pro_yearly") == ["pro_api_calls_yearly"]
    assert "pro_api_calls_monthly" not in loaded.offered_prices()


def test_plans_one_can_switch_between_bill_the_same_meters() -> None:
    # Basic without its metered price: a change Pro -> Basic would have to remove an item,
    # which a change that waits for its payment (a pending update) cannot do. An interval
    # switch (monthly <-> yearly) is a plan change too.
    message = _broken(lambda d: d["prices"]["basic_monthly"].pop("metered_prices"))
    assert "bill different meters" in message
    assert "basic_monthly: []" in message


def test_a_metered_price_is_not_sold_alone() -> None:
    message = _broken(lambda d: d["prices"]["pro_api_calls_monthly"].update(offered=True))
    assert "prices.pro_api_calls_monthly" in message
    assert "offered false" in message


def test_a_plans_metered_price_shares_its_product_and_interval() -> None:
    message = _broken(
        lambda d: d["prices"]["pro_monthly"].update(metered_prices=["basic_api_calls_monthly"])
    )
    assert "prices.pro_monthly.metered_prices: 'basic_api_calls_monthly' differs" in message


def test_tiers_end_with_one_unbounded_tier_and_belong_to_metered_prices() -> None:
    tiers = RAW["prices"]["pro_api_calls_monthly"]["tiers"]
    assert "tiers end with one up_to 'inf'" in _broken(
        lambda d: d["prices"]["pro_api_calls_monthly"].update(tiers=tiers[:1])
    )
    assert "only a metered price has them" in _broken(
        lambda d: d["prices"]["pro_monthly"].update(tiers=tiers, unit_amount=None)
    )
    assert "a price has a unit_amount" in _broken(
        lambda d: d["prices"]["pro_monthly"].pop("unit_amount")
    )


def test_the_quota_is_said_once_by_the_first_free_tier() -> None:
    message = _broken(lambda d: d["products"]["pro"]["limits"].update(api_calls=5000))
    assert "prices.pro_api_calls_monthly.tiers: the first tier is free up to the quota" in message
