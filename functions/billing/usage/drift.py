"""Usage drift: what the quota helper counted for a subject this period, against what Stripe's
meter summaries hold for its customer (reconcile reports each difference).

A difference is not always an error: a report still on its way through the usage topic (or
waiting for a retry) is counted here and not yet in Stripe, and Stripe aggregates meter events
asynchronously (https://docs.stripe.com/api/billing/meter-event-summary: "eventually
consistent"). Usage counted and never reported (the app consumed but did not publish), usage
reported without a consume, or usage the metering function held or refused, stay different.

Summaries take minute-aligned windows: the period is widened to whole minutes, so events in
the seconds before a period's start may count in it here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from billing.usage import periods
from core import call_counts
from core.firestore import doc_id, firestore_retry, get_document

if TYPE_CHECKING:
    import stripe

    from billing.context import Context


@dataclass(frozen=True)
class Drift:
    subject: str
    meter: str
    counted: int  # consumed through the quota helper this period
    in_stripe: float  # the meter summary over the same period
    period_start: int
    period_end: int


def _meters(client: stripe.StripeClient) -> dict[str, str]:
    """Active meters by event name -> meter id."""
    found: dict[str, str] = {}
    for meter in client.v1.billing.meters.list(
        {"status": "active", "limit": 100}
    ).auto_paging_iter():
        found[meter.event_name] = meter.id
    return found


def subject_drift(
    ctx: Context, subject: str, customer_id: str, meters: dict[str, str], now: float | None = None
) -> Iterator[Drift]:
    db = ctx.runtime.firestore
    timeout = ctx.runtime.settings.firestore_timeout_seconds
    bounded: dict[str, Any] = {"timeout": timeout, "retry": firestore_retry(timeout)}
    now = time.time() if now is None else now
    call_counts.count(call_counts.FIRESTORE, 2)
    entitlement = get_document(db.document(f"{periods.ENTITLEMENTS}/{doc_id(subject)}"), **bounded)
    plan = periods.plan_of(entitlement.to_dict() if entitlement.exists else None, {}, now)
    counts = get_document(db.document(periods.period_path(subject, plan.period.start)), **bounded)
    used = periods.used_in(counts.to_dict() if counts.exists else None)
    start = plan.period.start - plan.period.start % 60
    end = min(plan.period.end, int(now) + 60)
    end += -end % 60
    for meter in sorted(set(used) | set(plan.limits)):
        meter_id = meters.get(meter)
        in_stripe = 0.0
        if meter_id is not None:
            found = ctx.runtime.stripe.v1.billing.meters.event_summaries.list(
                meter_id, {"customer": customer_id, "start_time": start, "end_time": end}
            )
            in_stripe = sum(summary.aggregated_value for summary in found.data)
        if in_stripe != used.get(meter, 0):
            yield Drift(subject, meter, used.get(meter, 0), in_stripe, start, end)


def drift(ctx: Context, pairs: list[tuple[str, str]]) -> list[Drift]:
    """Every (subject, meter) whose count differs from Stripe's summary this period."""
    meters = _meters(ctx.runtime.stripe)
    return [
        found
        for subject, customer in pairs
        for found in subject_drift(ctx, subject, customer, meters)
    ]
