"""The plan change a subscription's schedule has waiting, read from the subscription's JSON.

A downgrade at the period end (DOWNGRADE_POLICY=period_end) is a subscription schedule whose
next phase holds the new plan. The entitlement rules (``billing.entitlements.sync``) and the
views (``billing.operations._views``) both read it; it stands alone so that a function showing
a subscription does not load the entitlement rules and the catalog behind them at start.
"""

from __future__ import annotations

from collections.abc import Mapping

from billing.stripe_api.raw import Json


def scheduled_change(sub: Json) -> tuple[str, int] | None:
    """(price, start) of the plan a subscription schedule starts after the current phase, or
    None. ``sub["schedule"]`` must be expanded (an id alone says nothing of the phases).

    The next phase is the one starting where the schedule's ``current_phase`` ends (Stripe
    moves ``current_phase`` when a phase begins), so the answer follows Stripe's clock, never
    ours; a schedule in its last phase (the change already made) has nothing pending. Its plan
    is the phase's licensed item: the one with a ``quantity`` (Stripe omits it for a metered
    price, ``SubscriptionSchedule.Phase.Item.quantity?`` in Stripe's published types)."""
    schedule = sub.get("schedule")
    if not isinstance(schedule, Mapping) or schedule.get("status") != "active":
        return None
    current = schedule.get("current_phase")
    if not isinstance(current, Mapping):
        return None
    for phase in schedule.get("phases") or []:
        if phase.get("start_date") != current.get("end_date"):
            continue
        plans = [item["price"] for item in phase.get("items") or [] if "quantity" in item]
        price = plans[0] if plans else None
        price_id = price.get("id") if isinstance(price, Mapping) else price
        return (price_id, int(phase["start_date"])) if isinstance(price_id, str) else None
    return None
