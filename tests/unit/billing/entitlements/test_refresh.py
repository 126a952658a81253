"""retrieve-subscription skips the entitlement sync only when it would change nothing.

:func:`already_says` is the whole decision: a sync is skipped only when the stored document
already holds every field a sync would write from what Stripe just said. Each test below
changes one thing, on Stripe's side or in the document, and the refresh must happen.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from billing.config import BillingSettings
from billing.entitlements.sync import Entitlement, already_says, evaluate
from billing.statuses import DAY

NOW = 1_800_000_000
PERIOD_END = NOW + 20 * DAY
UID, CUSTOMER = "u1", "cus_1"


def _sub(**extra: Any) -> dict[str, Any]:
    """A subscription as retrieve-subscription reads it (customer, price, product expanded)."""
    data: dict[str, Any] = {
        "id": "sub_1",
        "object": "subscription",
        "customer": {"id": CUSTOMER, "object": "customer"},
        "status": "active",
        "created": NOW - 100,
        "cancel_at_period_end": False,
        "trial_end": None,
        "latest_invoice": {
            "id": "in_1",
            "object": "invoice",
            "created": NOW - 200,
            "status_transitions": {"finalized_at": NOW - 150},
        },
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "current_period_end": PERIOD_END,
                    "price": {
                        "id": "price_pro_monthly",
                        "object": "price",
                        "product": {"id": "prod_pro", "object": "product"},
                    },
                }
            ],
        },
    }
    data.update(extra)
    return data


def _stored(sub: dict[str, Any], settings: BillingSettings, features: list[str]) -> dict[str, Any]:
    """The document a sync wrote for ``sub`` (with the fields only the sync adds)."""
    written = evaluate(UID, CUSTOMER, [sub], features, settings, NOW).document()
    return written | {"updated_at": "2026-12-01T00:00:00Z", "version": 12345}


def test_nothing_changed_means_no_refresh(settings: BillingSettings) -> None:
    sub = _sub()
    assert already_says(_stored(sub, settings, ["reports"]), UID, CUSTOMER, sub, settings, NOW)


def _set(sub: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(sub)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return changed


# Everything a sync reads from a subscription, each changed the way Stripe changes it.
STRIPE_CHANGES = {
    "paid at last": ("status", "active", "incomplete"),
    "now past due": ("status", "past_due", "active"),
    "canceled": ("status", "canceled", "active"),
    "trial started": ("status", "trialing", "active"),
    "unpaid": ("status", "unpaid", "active"),
    "paused": ("status", "paused", "active"),
    "renewed": ("items.data.0.current_period_end", PERIOD_END + 30 * DAY, PERIOD_END),
    "plan changed": ("items.data.0.price.id", "price_basic_monthly", "price_pro_monthly"),
    "product changed": ("items.data.0.price.product", {"id": "prod_x"}, {"id": "prod_pro"}),
    "set to cancel": ("cancel_at_period_end", True, False),
    "resumed": ("cancel_at_period_end", False, True),
    "trial end moved": ("trial_end", NOW + 5 * DAY, None),
}


@pytest.mark.parametrize("change", sorted(STRIPE_CHANGES))
def test_every_change_on_stripes_side_refreshes(change: str, settings: BillingSettings) -> None:
    path, now_value, before_value = STRIPE_CHANGES[change]
    before = _set(_sub(), path, before_value)
    document = _stored(before, settings, ["reports"])
    after = _set(before, path, now_value)
    assert not already_says(document, UID, CUSTOMER, after, settings, NOW)


def test_past_due_grace_running_out_refreshes_with_nothing_else_changed(
    settings: BillingSettings,
) -> None:
    sub = _sub(status="past_due")
    document = _stored(sub, settings, ["reports"])
    assert document["active"] is True
    later = NOW + (settings.past_due_grace_days + 1) * DAY
    assert not already_says(document, UID, CUSTOMER, sub, settings, later)


def test_a_payment_on_a_new_invoice_refreshes(settings: BillingSettings) -> None:
    before = _sub(status="past_due")
    document = _stored(before, settings, [])
    invoice = {**before["latest_invoice"], "id": "in_2", "status_transitions": {}}
    assert not already_says(
        document, UID, CUSTOMER, _sub(status="past_due", latest_invoice=invoice), settings, NOW
    )


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Entitlement)])
def test_a_document_that_differs_in_any_field_is_refreshed(
    field: str, settings: BillingSettings
) -> None:
    # Whatever the reason (an older sync, a hand edit, a bug), a field a sync would write
    # differently is never left as it is.
    sub = _sub()
    document = _stored(sub, settings, ["reports"])
    document[field] = {"not": "what a sync writes"}
    assert not already_says(document, UID, CUSTOMER, sub, settings, NOW)
    del document[field]
    assert not already_says(document, UID, CUSTOMER, sub, settings, NOW)


def test_no_document_or_another_subscriptions_document_refreshes(settings: BillingSettings) -> None:
    sub = _sub()
    assert not already_says(None, UID, CUSTOMER, sub, settings, NOW)
    other = _stored(_sub(id="sub_other"), settings, ["reports"])
    assert not already_says(other, UID, CUSTOMER, sub, settings, NOW)
    not_a_list = _stored(sub, settings, []) | {"features": None}
    assert not already_says(not_a_list, UID, CUSTOMER, sub, settings, NOW)


def test_another_customer_or_user_refreshes(settings: BillingSettings) -> None:
    sub = _sub()
    document = _stored(sub, settings, [])
    assert not already_says(document, UID, "cus_2", sub, settings, NOW)
    assert not already_says(document, "u2", CUSTOMER, sub, settings, NOW)
