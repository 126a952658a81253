"""Stripe Entitlements: a customer's active entitlements follow their subscriptions' products.

A subscription provisions the features attached to its products while it is live. Stripe keeps
entitlements through ``past_due``, ``unpaid`` and ``paused`` (it sends no summary event when a
trial ends into ``paused``), and removes them when the subscription ends or never started.
Whenever a customer's set changes, ``entitlements.active_entitlement_summary.updated`` is sent.

A product's features are read when a subscription item's period starts and kept for that
period: "Existing subscriptions will create active entitlements for any product feature changes
at the start of the next billing period" (https://docs.stripe.com/billing/entitlements, quoted
in https://github.com/formbricks/formbricks/pull/8141). So a feature attached to a product
reaches a new subscriber at once, and an existing one at their renewal (or a plan change, which
starts the item on another product).
"""

from __future__ import annotations

from typing import Any

from devstack.stripe_standin import ids, objects
from devstack.stripe_standin.state import AUTOMATIC, State

JSONDict = dict[str, Any]

PROVISIONING = frozenset({"active", "trialing", "past_due", "unpaid", "paused"})


def _features_of(state: State, customer_id: str) -> dict[str, JSONDict]:
    features: dict[str, JSONDict] = {}
    for sub in state.data.subscriptions.values():
        if sub["customer"] != customer_id or sub["status"] not in PROVISIONING:
            continue
        for item in sub["items"]["data"]:
            for feature_id in _snapshot(state, item):
                feature = state.data.features.get(feature_id)
                if feature is not None and feature["active"]:
                    features[feature_id] = feature
    return features


def _snapshot(state: State, item: JSONDict) -> list[str]:
    """The item's product's features as they were when its current period started (read the
    first time the item provisions in that period)."""
    product = item["price"]["product"]
    key = (item["id"], product, int(item["current_period_start"]))
    if key not in state.data.feature_snapshots:
        state.data.feature_snapshots[key] = [
            attached["entitlement_feature"]["id"]
            for attached in state.data.product_features.get(product, [])
        ]
    return state.data.feature_snapshots[key]


def announce_changes(state: State) -> None:
    """Recompute every customer's active entitlements; emit a summary event where they changed."""
    for customer_id, customer in state.data.customers.items():
        current = state.data.entitlements.get(customer_id, {})
        wanted = _features_of(state, customer_id)
        if set(wanted) == set(current):
            continue
        updated = {
            feature_id: current.get(feature_id)
            or objects.active_entitlement(ids.new_id("ent"), feature)
            for feature_id, feature in wanted.items()
        }
        state.data.entitlements[customer_id] = updated
        summary = {
            "object": "entitlements.active_entitlement_summary",
            "customer": customer["id"],
            "entitlements": objects.list_object(
                list(updated.values()), "/v1/entitlements/active_entitlements"
            ),
            "livemode": False,
        }
        state.emit("entitlements.active_entitlement_summary.updated", summary, AUTOMATIC)


def active_for(state: State, customer_id: str) -> list[JSONDict]:
    return list(state.data.entitlements.get(customer_id, {}).values())
