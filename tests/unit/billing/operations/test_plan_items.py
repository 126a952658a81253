"""A plan's subscription items: the metered prices go on with the plan and change with it."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from billing.config import BillingSettings
from billing.errors import Conflict
from billing.operations._plan_items import (
    change_items,
    checkout_line_items,
    licensed_items,
    plan_price,
    subscribe_items,
)

METERED = (
    "price_basic=price_basic_calls+price_basic_exports,price_pro=price_pro_calls+price_pro_exports"
)


def _settings(metered: str = METERED) -> BillingSettings:
    return BillingSettings.model_validate(
        {
            "google_cloud_project": "demo-billing",
            "stripe_secret_key": "sk_test_x",
            "metered_price_ids": metered,
        }
    )


def _item(item_id: str, price: str, usage_type: str = "licensed") -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "subscription_item",
        "price": {
            "id": price,
            "object": "price",
            "recurring": {"interval": "month", "usage_type": usage_type},
        },
    }


def _sub_json(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "sub_1",
        "object": "subscription",
        "items": {"object": "list", "data": list(items)},
    }


def _sub(*items: dict[str, Any]) -> stripe.Subscription:
    return stripe.Subscription.construct_from(_sub_json(*items), "sk_test_x")


def test_subscribing_adds_the_plans_metered_prices_without_a_quantity() -> None:
    settings = _settings()
    assert subscribe_items(settings, "price_pro") == [
        {"price": "price_pro"},
        {"price": "price_pro_calls"},
        {"price": "price_pro_exports"},
    ]
    assert checkout_line_items(settings, "price_pro") == [
        {"price": "price_pro", "quantity": 1},
        {"price": "price_pro_calls"},
        {"price": "price_pro_exports"},
    ]
    assert subscribe_items(settings, "price_yearly") == [{"price": "price_yearly"}]


def test_a_plan_change_swaps_each_metered_price_for_the_same_meters() -> None:
    items = (
        _item("si_exports", "price_basic_exports", "metered"),  # Stripe's order is not ours
        _item("si_plan", "price_basic"),
        _item("si_calls", "price_basic_calls", "metered"),
    )
    sub = _sub(*items)
    (plan,) = licensed_items(sub)
    assert plan_price(_sub_json(*items)) == "price_basic"  # read from the JSON
    assert change_items(_settings(), sub, plan, "price_pro") == [
        {"id": "si_plan", "price": "price_pro"},
        {"id": "si_calls", "price": "price_pro_calls"},
        {"id": "si_exports", "price": "price_pro_exports"},
    ]


def test_a_shared_metered_price_stays_as_it_is() -> None:
    settings = _settings("price_a=price_calls,price_b=price_calls")
    sub = _sub(_item("si_plan", "price_a"), _item("si_calls", "price_calls", "metered"))
    (plan,) = licensed_items(sub)
    assert change_items(settings, sub, plan, "price_b") == [{"id": "si_plan", "price": "price_b"}]


@pytest.mark.parametrize(
    "items",
    [
        # its metered item is missing: the change would leave usage unbilled
        (_item("si_plan", "price_basic"), _item("si_calls", "price_basic_calls", "metered")),
        # a metered item its plan does not have
        (
            _item("si_plan", "price_basic"),
            _item("si_calls", "price_basic_calls", "metered"),
            _item("si_exports", "price_basic_exports", "metered"),
            _item("si_other", "price_other", "metered"),
        ),
    ],
)
def test_metered_items_that_do_not_match_the_plan_are_a_conflict(
    items: tuple[dict[str, Any], ...],
) -> None:
    sub = _sub(*items)
    (plan,) = licensed_items(sub)
    with pytest.raises(Conflict, match="billing portal"):
        change_items(_settings(), sub, plan, "price_pro")
