"""The catalog a fresh stand-in starts with: products, prices, features, coupons and codes."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.stripe_standin import discounts, ids, objects
from devstack.stripe_standin.state import State


def seed_catalog(state: State, catalog_path: Path) -> None:
    catalog = json.loads(catalog_path.read_text())
    now = state.clock.now()
    for entry in catalog.get("features", []):
        state.data.features[entry["id"]] = objects.feature(
            entry["id"], entry["name"], entry["lookup_key"]
        )
    for product_id, feature_ids in catalog.get("product_features", {}).items():
        state.data.product_features[product_id] = [
            objects.product_feature(ids.new_id("prodft"), state.data.features[feature_id])
            for feature_id in feature_ids
        ]
    for entry in catalog.get("products", []):
        extra = {k: v for k, v in entry.items() if k not in ("id", "name")}
        state.data.products[entry["id"]] = objects.product(entry["id"], entry["name"], now, **extra)
    for entry in catalog.get("prices", []):
        extra = {
            k: v
            for k, v in entry.items()
            if k not in ("id", "product", "unit_amount", "currency", "interval")
        }
        state.data.prices[entry["id"]] = objects.price(
            entry["id"],
            entry["product"],
            int(entry["unit_amount"]),
            entry.get("currency", "usd"),
            entry.get("interval"),
            now,
            **extra,
        )
        discounts.load_catalog(state, catalog)
