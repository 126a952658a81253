"""The read side of quotas, as the browser's usage operation and reconcile need it.

The layout is shared with ``packages/billing-usage`` (the helper the app's backends use to
consume): see its ``periods`` module for the documents. The functions cannot import the helper
(it is not part of the deployed source), so the few lines that name the documents and choose
the period are repeated here, and ``tests/unit/billing/usage/test_quotas.py`` requires both
copies to give the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.firestore import doc_id

ENTITLEMENTS = "entitlements"
COUNTS = "usage_counts"
PERIODS = "periods"


@dataclass(frozen=True)
class Limit:
    included: int
    overage: bool


@dataclass(frozen=True)
class Period:
    start: int
    end: int
    source: str  # "subscription" or "calendar_month"


@dataclass(frozen=True)
class Plan:
    limits: dict[str, Limit]
    period: Period
    free: bool


def calendar_month(now: float) -> Period:
    moment = datetime.fromtimestamp(now, UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return Period(int(start.timestamp()), int(end.timestamp()), "calendar_month")


def subscription_period(start: int, end: int, now: float) -> Period:
    length = max(end - start, 1)
    while now >= end:
        start, end = end, end + length
    return Period(start, end, "subscription")


def parse_limits(raw: Any) -> dict[str, Limit]:
    limits: dict[str, Limit] = {}
    if isinstance(raw, dict):
        for meter, spec in raw.items():
            if isinstance(spec, dict) and isinstance(spec.get("included"), int):
                limits[str(meter)] = Limit(spec["included"], bool(spec.get("overage", False)))
    return limits


def plan_of(entitlement: dict[str, Any] | None, free: dict[str, Limit], now: float) -> Plan:
    if entitlement and entitlement.get("active"):
        period = entitlement.get("usage_period") or {}
        start, end = period.get("start"), period.get("end")
        if isinstance(start, int) and isinstance(end, int):
            return Plan(
                parse_limits(entitlement.get("limits")),
                subscription_period(start, end, now),
                free=False,
            )
    if entitlement and isinstance(entitlement.get("limits"), dict):
        # Written by the entitlement sync: the free plan's limits as the catalog has them now.
        return Plan(parse_limits(entitlement["limits"]), calendar_month(now), free=True)
    return Plan(dict(free), calendar_month(now), free=True)


def period_path(subject: str, start: int) -> str:
    return f"{COUNTS}/{doc_id(subject)}/{PERIODS}/{start}"


def used_in(document: dict[str, Any] | None) -> dict[str, int]:
    used = (document or {}).get("used") or {}
    if not isinstance(used, dict):
        return {}
    return {str(k): v for k, v in used.items() if isinstance(v, int)}
