"""The catalog a fresh stand-in starts with: the shared one, plus test-only fixtures.

The catalog (``functions/billing/catalog/catalog.json``, read with ``billing.catalog``) is the
one Terraform creates in Stripe and the functions sell; ``fixtures.json`` beside this module
adds what only tests need (an expired and an inactive promotion code), kept apart so nothing
test-only is ever offered or created in Stripe.

Stripe gives every object a random id; the stand-in derives stable ones from the catalog keys
(``prod_<key>``, ``price_<lookup_key>``, ``feat_<lookup_key>``, the coupon's key,
``promo_<code>``), so the local stack can sell the offered prices by id
(:func:`offered_price_ids`) without asking the stand-in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from billing.catalog import CATALOG_PATH, Catalog, load
from devstack.stripe_standin import discounts, ids, meters, objects
from devstack.stripe_standin.state import State

FIXTURES_PATH = Path(__file__).with_name("fixtures.json")
# The id of the portal configuration Terraform would make (the local stack's
# PORTAL_CONFIGURATION_ID).
PORTAL_CONFIGURATION = "bpc_catalog"

JSONDict = dict[str, Any]


def product_id(key: str) -> str:
    return f"prod_{key}"


def price_id(lookup_key: str) -> str:
    return f"price_{lookup_key}"


def feature_id(lookup_key: str) -> str:
    return f"feat_{lookup_key}"


def promotion_code_id(code: str) -> str:
    return f"promo_{code.lower()}"


def offered_price_ids(catalog: Catalog | None = None) -> list[str]:
    """The stand-in's ids of the catalog's offered prices: the local stack's ALLOWED_PRICE_IDS."""
    return [price_id(key) for key in (catalog or load()).offered_prices()]


def metered_price_ids(catalog: Catalog | None = None) -> str:
    """The local stack's METERED_PRICE_IDS: each plan's metered prices, by stand-in id."""
    loaded = catalog or load()
    return ",".join(
        f"{price_id(key)}={'+'.join(price_id(m) for m in loaded.metered_prices_of(key))}"
        for key, price in sorted(loaded.prices.items())
        if price.metered_prices
    )


def entries(
    catalog_path: Path = CATALOG_PATH, fixtures_path: Path | None = FIXTURES_PATH
) -> JSONDict:
    """Everything the stand-in's state loads at start and on reset, with stand-in ids."""
    catalog = load(catalog_path)
    fixtures: JSONDict = json.loads(fixtures_path.read_text()) if fixtures_path else {}
    coupons = [
        {
            "id": key,
            **coupon.model_dump(exclude_none=True, exclude={"applies_to"}),
            **(
                {"applies_to": [product_id(p) for p in coupon.applies_to]}
                if coupon.applies_to
                else {}
            ),
        }
        for key, coupon in catalog.coupons.items()
    ]
    coupons += [{"id": key, **entry} for key, entry in fixtures.get("coupons", {}).items()]
    # Every field of the catalog's code, as Terraform creates it (infra/stripe.tf): the cap and
    # the first-time-only restriction (Stripe:
    # https://docs.stripe.com/api/promotion_codes/object#promotion_code_object-restrictions).
    promotion_codes = [
        {"id": promotion_code_id(code), "code": code, "coupon": promo.coupon}
        | ({"max_redemptions": promo.max_redemptions} if promo.max_redemptions else {})
        | (
            {"restrictions": {"first_time_transaction": True}}
            if promo.first_time_transaction
            else {}
        )
        for code, promo in catalog.promotion_codes.items()
    ]
    promotion_codes += [
        {"id": promotion_code_id(code), "code": code, **entry}
        for code, entry in fixtures.get("promotion_codes", {}).items()
    ]
    return {
        "features": [
            {"id": feature_id(key), "name": feature.name, "lookup_key": key}
            for key, feature in catalog.features.items()
        ],
        "product_features": {
            product_id(key): [feature_id(feature) for feature in product.features]
            for key, product in catalog.products.items()
        },
        "products": [
            {"id": product_id(key), "name": product.name}
            | ({"description": product.description} if product.description else {})
            for key, product in catalog.products.items()
        ],
        "prices": [
            {
                "id": price_id(key),
                "product": product_id(price.product),
                "unit_amount": price.unit_amount,
                "currency": price.currency,
                "interval": price.recurring.interval if price.recurring else None,
                "lookup_key": key,
            }
            | ({"nickname": price.nickname} if price.nickname else {})
            # The whole recurring block: interval_count (Stripe's default 1), usage_type
            # (default licensed) and the meter a metered price bills
            # (https://docs.stripe.com/api/prices/object#price_object-recurring).
            | (
                {
                    "interval_count": price.recurring.interval_count or 1,
                    "usage_type": price.recurring.usage_type or "licensed",
                }
                if price.recurring
                else {}
            )
            | ({"meter": f"mtr_{price.meter}"} if price.meter else {})
            | (
                {
                    "tiers": [
                        {
                            "up_to": None if tier.up_to == "inf" else tier.up_to,
                            "unit_amount": tier.unit_amount,
                        }
                        for tier in price.tiers
                    ]
                }
                if price.tiers
                else {}
            )
            for key, price in catalog.prices.items()
        ],
        "coupons": coupons,
        "promotion_codes": promotion_codes,
        # The portal configuration Terraform saves (infra/stripe.tf): plan switches grouped by
        # product, in catalog order.
        "portal": {
            "products": _portal_products(catalog),
            "proration_behavior": catalog.portal.proration_behavior,
            "cancel_mode": catalog.portal.cancel_mode,
        },
        # Meters as Stripe has them once Terraform created them (mtr_<key> here).
        "meters": [
            {
                "id": f"mtr_{key}",
                "display_name": meter.display_name,
                "event_name": meter.event_name,
                "default_aggregation": {"formula": meter.aggregation},
                "customer_mapping": {"event_payload_key": meter.customer_payload_key},
                "value_settings": {"event_payload_key": meter.value_payload_key},
            }
            for key, meter in catalog.meters.items()
        ],
    }


def _portal_products(catalog: Catalog) -> list[JSONDict]:
    products: dict[str, list[str]] = {}
    for key in catalog.portal.plan_switches:
        products.setdefault(product_id(catalog.prices[key].product), []).append(price_id(key))
    return [{"product": product, "prices": prices} for product, prices in products.items()]


def save_portal_configuration(state: State, portal: JSONDict) -> JSONDict:
    """Save the catalog's portal configuration, as ``terraform apply`` does (infra/stripe.tf)."""
    configuration = objects.portal_configuration(PORTAL_CONFIGURATION, state.now(), portal)
    state.data.portal_configurations[PORTAL_CONFIGURATION] = configuration
    return configuration


def seed_catalog(
    state: State,
    catalog_path: Path = CATALOG_PATH,
    fixtures_path: Path | None = FIXTURES_PATH,
    *,
    portal: bool = True,
) -> None:
    """Fill ``state`` with the catalog; ``portal`` also saves the portal configuration a
    deploy's Terraform makes (without it the account is as fresh as a new Stripe account's)."""
    catalog = entries(catalog_path, fixtures_path)
    now = state.clock.now()
    if portal:
        save_portal_configuration(state, catalog["portal"])
    for entry in catalog["features"]:
        state.data.features[entry["id"]] = objects.feature(
            entry["id"], entry["name"], entry["lookup_key"]
        )
    for product_id, feature_ids in catalog["product_features"].items():
        state.data.product_features[product_id] = [
            objects.product_feature(ids.new_id("prodft"), state.data.features[feature_id])
            for feature_id in feature_ids
        ]
    for entry in catalog["meters"]:
        state.data.meters.meters[entry["id"]] = meters.meter_object(entry["id"], entry, now)
    for entry in catalog["products"]:
        extra = {k: v for k, v in entry.items() if k not in ("id", "name")}
        state.data.products[entry["id"]] = objects.product(entry["id"], entry["name"], now, **extra)
    for entry in catalog["prices"]:
        extra = {
            k: v
            for k, v in entry.items()
            if k not in ("id", "product", "unit_amount", "currency", "interval", "tiers")
        }
        if entry.get("tiers"):
            state.data.price_tiers[entry["id"]] = entry["tiers"]
        state.data.prices[entry["id"]] = objects.price(
            entry["id"],
            entry["product"],
            entry["unit_amount"],
            entry["currency"],
            entry["interval"],
            now,
            tiered=bool(entry.get("tiers")),
            **extra,
        )
    discounts.load_catalog(state, catalog)
