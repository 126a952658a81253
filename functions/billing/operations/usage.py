"""get_usage: the caller's usage and limits per meter in the current period.

The subject is always the caller (the uid of the verified ID token): no request names another
one, so no caller can read another's usage. Usage is what the quota helper consumed; the
limits and the period are the entitlement's, or the free plan's for a caller without a live
subscription (catalog ``free_plan``).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.usage import periods, plans
from core import call_counts
from core.firestore import doc_id, firestore_retry, get_document


class UsageRequest(RequestModel):
    pass


class MeterUsage(ResponseModel):
    meter: str = Field(description="The meter's event name, as usage is reported under.")
    used: int = Field(description="Units used in the current period.")
    included: int = Field(description="Units the plan includes per period.")
    remaining: int = Field(description="Included units left (0 once used up).")
    overage: bool = Field(
        description="Beyond the included units: billed at the plan's metered price (true) or "
        "refused (false)."
    )


class UsageResponse(ResponseModel):
    plan: Literal["free", "subscription"] = Field(
        description="free: no live subscription, so the catalog's free plan applies."
    )
    features: list[str] | None = Field(
        description="The free plan's features (lookup keys); null for a subscription, whose "
        "features are in its entitlement document."
    )
    period_start: int = Field(description="Unix seconds; counts reset at period_end.")
    period_end: int
    meters: list[MeterUsage]


def get_usage(ctx: Context, body: UsageRequest) -> UsageResponse:
    """This period's usage and limits per meter for the signed-in caller."""
    db = ctx.runtime.firestore
    subject = ctx.user.uid
    timeout = ctx.runtime.settings.firestore_timeout_seconds
    bounded: dict[str, Any] = {"timeout": timeout, "retry": firestore_retry(timeout)}
    call_counts.count(call_counts.FIRESTORE, 2)
    entitlement = get_document(db.document(f"{periods.ENTITLEMENTS}/{doc_id(subject)}"), **bounded)
    plan = periods.plan_of(
        entitlement.to_dict() if entitlement.exists else None, plans.free_limits(), time.time()
    )
    counts = get_document(db.document(periods.period_path(subject, plan.period.start)), **bounded)
    used = periods.used_in(counts.to_dict() if counts.exists else None)
    return UsageResponse(
        plan="free" if plan.free else "subscription",
        features=plans.free_features() if plan.free else None,
        period_start=plan.period.start,
        period_end=plan.period.end,
        meters=[
            MeterUsage(
                meter=meter,
                used=used.get(meter, 0),
                included=limit.included,
                remaining=max(limit.included - used.get(meter, 0), 0),
                overage=limit.overage,
            )
            for meter, limit in sorted(plan.limits.items())
        ],
    )
