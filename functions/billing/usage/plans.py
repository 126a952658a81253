"""What each plan of the catalog lets a subject use: its quotas, and the free plan's.

A plan's quota is its product's ``limits`` (included units per period, by meter); a
subscription that also holds the plan's metered price for a meter pays for use beyond the
included units (``overage``), else use beyond them is refused. A subject without a live
subscription has the catalog's ``free_plan``: its features, and its limits, refused beyond.
Limits are keyed by the meter's ``event_name``: the name usage is reported under.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from billing import catalog
from billing.usage.periods import Limit

# Loaded and checked with this module: an instance whose function reads plans does it while it
# starts, so its first request does not wait for it (the catalog's models validate the file,
# ~10-40 ms of CPU), and a catalog that fails its checks stops the instance there, named.
catalog.load()


def free_limits() -> dict[str, Limit]:
    loaded = catalog.load()
    if loaded.free_plan is None:
        return {}
    return {
        loaded.meters[key].event_name: Limit(included, overage=False)
        for key, included in loaded.free_plan.limits.items()
    }


def free_features() -> list[str]:
    loaded = catalog.load()
    return sorted(loaded.free_plan.features) if loaded.free_plan else []


def subscription_features(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """The features the catalog attaches to the products of a subscription's prices (the
    product features Terraform creates in Stripe), by lookup key."""
    loaded = catalog.load()
    keys: set[str] = set()
    for item in items:
        price = item.get("price") or {}
        entry = loaded.prices.get(str(price.get("lookup_key") or ""))
        if entry is not None:
            keys.update(loaded.products[entry.product].features)
    return sorted(keys)


def subscription_limits(items: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The quotas a subscription's items give, as the entitlement document carries them."""
    loaded = catalog.load()
    included: dict[str, int] = {}
    metered: set[str] = set()
    for item in items:
        price = item.get("price") or {}
        entry = loaded.prices.get(str(price.get("lookup_key") or ""))
        if entry is None:
            continue  # a price the catalog does not declare carries no quota
        recurring = entry.recurring
        if recurring is not None and recurring.usage_type == "metered" and recurring.meter:
            metered.add(recurring.meter)
            continue
        for meter, units in loaded.products[entry.product].limits.items():
            included[meter] = max(units, included.get(meter, 0))
    return {
        loaded.meters[meter].event_name: {
            "included": included.get(meter, 0),
            "overage": meter in metered,
        }
        for meter in sorted(set(included) | metered)
    }
