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
        "prices": 7,
        "coupons": 2,
        "promotion_codes": 2,
        "meters": 1,
    }


def test_metered_prices_render_with_their_meter_and_graduated_tiers(
    rendered: dict[str, Any],
) -> None:
    metered = {key for key, price in CATALOG.prices.items() if price.metered}
    assert metered, "the catalog bills usage beyond the quota (pro_api_calls_monthly, ...)"
    for key in metered:
        price, out = CATALOG.prices[key], rendered["prices"][key]
        assert (out["usage_type"], out["meter"], out["unit_amount"]) == (
            "metered",
            price.meter,
            price.unit_amount,
        )
        # The provider takes up_to as a string: a number of units or "inf".
        assert out["tiers"] == [
            {"up_to": str(tier.up_to), "unit_amount": tier.unit_amount} for tier in price.tiers
        ]
        assert out["offered"] is False  # never sold alone
        quota = CATALOG.products[price.product].limits[price.meter or ""]
        assert out["tiers"][0] == {"up_to": str(quota), "unit_amount": 0}
    for key in CATALOG.prices:
        assert rendered["prices"][key]["metered_prices"] == CATALOG.metered_prices_of(key)
    assert rendered["prices"]["pro_monthly"]["metered_prices"] == ["pro_api_calls_monthly"]


def test_a_second_meter_renders_in_meter_order(tmp_path: Path) -> None:
    data = raw()
    data["meters"]["exports"] = {"display_name": "Exports", "event_name": "exports"}
    data["products"]["pro"]["limits"]["exports"] = 50
    data["products"]["basic"]["limits"]["exports"] = 5
    for plan, interval in (("basic", "month"), ("pro", "month"), ("pro", "year")):
        data["prices"][f"{plan}_exports_{interval}ly"] = {
            "product": plan,
            "currency": "usd",
            "recurring": {"interval": interval, "usage_type": "metered", "meter": "exports"},
            "tiers": [
                {"up_to": data["products"][plan]["limits"]["exports"], "unit_amount": 0},
                {"up_to": "inf", "unit_amount": 10},
            ],
            "offered": False,
        }
    # Listed out of meter order: both readers put api_calls before exports.
    for plan, key, interval in (
        ("basic", "basic_monthly", "month"),
        ("pro", "pro_monthly", "month"),
        ("pro", "pro_yearly", "year"),
        ("basic", "legacy_monthly", "month"),
    ):
        data["prices"][key]["metered_prices"] = [
            f"{plan}_exports_{interval}ly",
            f"{plan}_api_calls_{interval}ly",
        ]
    parsed = catalog_module.parse(json.dumps(data))
    result = evaluate_catalog(tmp_path, data)
    assert result.ok, result.error
    expected = ["pro_api_calls_monthly", "pro_exports_monthly"]
    assert result.outputs["prices"]["pro_monthly"]["metered_prices"] == expected
    assert parsed.metered_prices_of("pro_monthly") == expected
    assert result.outputs["meters"]["exports"]["event_name"] == "exports"


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
    (
        lambda d: d["prices"]["pro_monthly"].update(metered_prices=["basic_monthly"]),
        "A plan's metered_prices are metered prices of the catalog",
        "prices.pro_monthly.metered_prices: 'basic_monthly' is not a metered price",
    ),
    (
        lambda d: d["prices"]["pro_api_calls_monthly"]["tiers"][0].update(up_to=20000),
        "A metered price's first tier is free up to its product's limit",
        r"prices.pro_api_calls_monthly.tiers: the first tier is free up to the quota",
    ),
    (
        lambda d: d["prices"]["pro_api_calls_monthly"]["tiers"][0].update(unit_amount=1),
        "A metered price's first tier is free up to its product's limit",
        r"prices.pro_api_calls_monthly.tiers: the first tier is free up to the quota",
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
