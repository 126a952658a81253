"""What each plan lets a subject use, read from the catalog: product limits, metered prices
(overage), and the free plan for everyone without a live subscription."""

from __future__ import annotations

import json
from typing import Any

import pytest

from billing import catalog
from billing.usage import plans
from billing.usage.periods import Limit

CATALOG: dict[str, Any] = {
    "features": {"reports": {"name": "Reports"}, "api_access": {"name": "API access"}},
    "products": {
        "basic": {"name": "Basic", "features": ["reports"], "limits": {"calls": 1000}},
        "pro": {"name": "Pro", "features": ["reports", "api_access"], "limits": {"calls": 10000}},
        "calls": {"name": "API calls beyond the plan"},
    },
    "prices": {
        "basic_monthly": {"product": "basic", "unit_amount": 999, "currency": "usd",
                          "recurring": {"interval": "month"}},
        "pro_monthly": {"product": "pro", "unit_amount": 2900, "currency": "usd",
                        "recurring": {"interval": "month"}},
        "calls_overage": {"product": "calls", "unit_amount": 1, "currency": "usd",
                          "recurring": {"interval": "month", "usage_type": "metered",
                                        "meter": "calls"}, "offered": False},
    },
    "meters": {"calls": {"display_name": "API calls", "event_name": "api_calls"}},
    "free_plan": {"features": ["reports"], "limits": {"calls": 100}},
}  # fmt: skip


@pytest.fixture(autouse=True)
def _catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = catalog.parse(json.dumps(CATALOG))
    monkeypatch.setattr(catalog, "load", lambda *_: parsed)


def item(lookup_key: str) -> dict[str, Any]:
    return {"price": {"id": f"price_{lookup_key}", "lookup_key": lookup_key}}


def test_the_free_plan_refuses_beyond_its_limits_by_event_name() -> None:
    assert plans.free_limits() == {"api_calls": Limit(100, overage=False)}
    assert plans.free_features() == ["reports"]


def test_a_plan_without_its_metered_price_refuses_beyond_the_included_units() -> None:
    assert plans.subscription_limits([item("basic_monthly")]) == {
        "api_calls": {"included": 1000, "overage": False}
    }


def test_a_plan_with_its_metered_price_bills_beyond_the_included_units() -> None:
    limits = plans.subscription_limits([item("pro_monthly"), item("calls_overage")])
    assert limits == {"api_calls": {"included": 10000, "overage": True}}


def test_a_price_the_catalog_does_not_declare_carries_no_quota() -> None:
    assert plans.subscription_limits([item("someone_elses_price"), {"price": {}}]) == {}
