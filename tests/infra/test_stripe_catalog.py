"""The catalog renders to the Stripe resources it should, evaluated by Terraform itself.

``infra/stripe.tf`` makes one resource per entry of the maps ``modules/stripe-catalog`` computes
from ``functions/billing/catalog/catalog.json``; the module has no provider, so these tests run
it offline on the real catalog and on fixtures, and compare what Terraform computes with what
the Python loader (the functions' and the stand-in's reader) says about the same file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from billing import catalog as catalog_module
from tests.support.infra import evaluate_catalog

CATALOG = catalog_module.load()


def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(catalog_module.CATALOG_PATH.read_text())
    return data


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = evaluate_catalog(tmp_path_factory.mktemp("catalog"), raw())
    assert result.ok, result.error
    return result.outputs


def test_every_feature_product_and_price_becomes_one_resource(rendered: dict[str, Any]) -> None:
    assert set(rendered["features"]) == set(CATALOG.features)
    assert {k: v["lookup_key"] for k, v in rendered["features"].items()} == {
        key: key for key in CATALOG.features
    }
    assert set(rendered["products"]) == set(CATALOG.products)
    assert set(rendered["prices"]) == set(CATALOG.prices)
    for key, price in CATALOG.prices.items():
        out = rendered["prices"][key]
        assert (out["product"], out["unit_amount"], out["currency"]) == (
            price.product,
            price.unit_amount,
            price.currency,
        ), key
        assert out["interval"] == (price.recurring.interval if price.recurring else None), key
        assert out["offered"] == price.offered, key


def test_product_features_are_exactly_the_catalogs_attachments(rendered: dict[str, Any]) -> None:
    expected = {
        f"{product}/{feature}": {"product": product, "feature": feature}
        for product, spec in CATALOG.products.items()
        for feature in spec.features
    }
    assert rendered["product_features"] == expected
    assert len(expected) >= 3


def test_offered_prices_are_the_ones_the_loader_offers(rendered: dict[str, Any]) -> None:
    assert rendered["offered_prices"] == CATALOG.offered_prices()
    not_offered = set(CATALOG.prices) - set(CATALOG.offered_prices())
    assert not_offered, "the catalog keeps a price it no longer sells (legacy_monthly)"
    assert not not_offered & set(rendered["offered_prices"])


def test_coupons_and_promotion_codes_are_the_offered_ones(rendered: dict[str, Any]) -> None:
    assert set(rendered["coupons"]) == set(CATALOG.coupons)
    assert {code: promo["coupon"] for code, promo in rendered["promotion_codes"].items()} == {
        code: promo.coupon for code, promo in CATALOG.promotion_codes.items()
    }
    # The stand-in's test fixtures (expired, inactive codes) are never created in Stripe.
    assert "SUMMER2020" not in rendered["promotion_codes"]
    assert "RETIRED10" not in rendered["promotion_codes"]


def test_the_portal_switches_only_among_offered_prices(rendered: dict[str, Any]) -> None:
    switches = [key for entry in rendered["portal"]["products"] for key in entry["prices"]]
    assert sorted(switches) == sorted(CATALOG.portal.plan_switches)
    assert set(switches) <= set(CATALOG.offered_prices())
    for entry in rendered["portal"]["products"]:
        for key in entry["prices"]:
            assert CATALOG.prices[key].product == entry["product"]


def test_the_real_catalog_counts(rendered: dict[str, Any]) -> None:
    # What one apply creates in Stripe from this catalog (the portal and one webhook endpoint
    # come on top): printed by `python -m billing.catalog` too.
    counts = {name: len(rendered[name]) for name in (
        "features", "products", "product_features", "prices", "coupons", "promotion_codes", "meters"
    )}  # fmt: skip
    assert counts == {
        "features": 3,
        "products": 2,
        "product_features": 4,
        "prices": 4,
        "coupons": 2,
        "promotion_codes": 2,
        "meters": 1,
    }


def test_a_meter_and_a_metered_price_render(tmp_path: Path) -> None:
    data = raw()
    data["meters"] = {
        "api_calls": {"display_name": "API calls", "event_name": "api_call", "aggregation": "sum"}
    }
    data["prices"]["api_calls_monthly"] = {
        "product": "pro",
        "unit_amount": 1,
        "currency": "usd",
        "recurring": {"interval": "month", "usage_type": "metered", "meter": "api_calls"},
    }
    data["products"]["pro"]["limits"] = {"api_calls": 10000}
    catalog_module.parse(json.dumps(data))  # the loader accepts it too
    result = evaluate_catalog(tmp_path, data)
    assert result.ok, result.error
    assert result.outputs["meters"]["api_calls"]["event_name"] == "api_call"
    assert result.outputs["meters"]["api_calls"]["customer_payload_key"] == "stripe_customer_id"
    assert result.outputs["prices"]["api_calls_monthly"]["meter"] == "api_calls"
    assert result.outputs["prices"]["api_calls_monthly"]["usage_type"] == "metered"


BROKEN = [
    (
        lambda d: d["prices"]["pro_monthly"].update(product="gold"),
        "Every price's product is a key of products",
        "prices.pro_monthly.product: no product 'gold'",
    ),
    (
        lambda d: d["products"]["basic"]["features"].append("sso"),
        "Every feature a product carries is a key of features",
        "products.basic.features: no feature 'sso'",
    ),
    (
        lambda d: d["portal"]["plan_switches"].append("legacy_monthly"),
        "portal.plan_switches lists offered prices only",
        "portal.plan_switches: 'legacy_monthly' is not an offered price",
    ),
    (
        lambda d: d["promotion_codes"].update(FREE={"coupon": "nosuch"}),
        "Every promotion code's coupon is a key of coupons",
        "promotion_codes.FREE.coupon: no coupon 'nosuch'",
    ),
]


@pytest.mark.parametrize(("breaks", "terraform_says", "python_says"), BROKEN)
def test_an_inconsistent_catalog_is_refused_by_both_readers(
    tmp_path: Path, breaks: Any, terraform_says: str, python_says: str
) -> None:
    data = copy.deepcopy(raw())
    breaks(data)
    result = evaluate_catalog(tmp_path, data)
    assert not result.ok
    assert terraform_says in result.error
    with pytest.raises(catalog_module.CatalogError, match=python_says):
        catalog_module.parse(json.dumps(data))
