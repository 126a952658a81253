"""Which period a subject's usage counts in, and where its counts live in Firestore.

ONE FILE, TWO NAMES: this is ``billing.usage.periods`` in the functions and, through a symbolic
link, ``billing_usage.periods`` in the helper the app's backends install
(packages/billing-usage: ``pip install`` copies the file into the package). So it imports the
standard library only, never billing nor core (tests/unit/billing/usage/test_periods.py checks
both). The functions cannot import the helper (it is not part of the deployed source) and the
helper cannot import the functions (they are not installed with it), so the file is shared.

The billing functions write, and the helper reads, one shared layout (the browser's usage
operation and reconcile read the same documents):

``entitlements/{subject}``
    ``limits``: ``{meter: {"included": int, "overage": bool}}``, the plan's quota per meter:
    ``included`` units per period; beyond them the subject is refused (``overage`` false) or
    billed at the plan's metered price (``overage`` true).
    ``usage_period``: ``{"start": int, "end": int}``, the subscription's current period.
``usage_counts/{subject}/periods/{start}``
    ``used``: ``{meter: units consumed through the quota helper}``; the document of a period
    that has not started yet does not exist, so counts reset at the boundary by construction.
``usage_counts/{subject}/consumed/{usage id}``
    one per consumed usage id, so a retried consume is answered, not counted again.

A subject without a live subscription counts in calendar months (UTC) under the free plan.
A subscription whose period has ended but whose renewal the entitlement sync has not written
yet counts in the next period, which starts where the last one ended (as Stripe's renewal
does); its end is estimated from the last period's length until the sync writes it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ENTITLEMENTS = "entitlements"
COUNTS = "usage_counts"
PERIODS = "periods"
CONSUMED = "consumed"

# What Firestore refuses as a document id; the billing functions store such uids under a hash
# (functions/core/firestore.py doc_id), and so must every reader.
_UNSAFE_ID = re.compile(r"/|^\.\.?$|^__.*__$|^uid-sha256-")


def subject_doc_id(subject: str) -> str:
    if _UNSAFE_ID.search(subject) or len(subject.encode()) > 1500:
        return "uid-sha256-" + hashlib.sha256(subject.encode()).hexdigest()
    return subject


@dataclass(frozen=True)
class Limit:
    included: int
    overage: bool  # beyond ``included``: billed (True) or refused (False)

    def allows(self, used: int, more: int) -> bool:
        return self.overage or used + more <= self.included


@dataclass(frozen=True)
class Period:
    start: int
    end: int
    source: str  # "subscription" or "calendar_month"


def calendar_month(now: float) -> Period:
    moment = datetime.fromtimestamp(now, UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return Period(int(start.timestamp()), int(end.timestamp()), "calendar_month")


def subscription_period(start: int, end: int, now: float) -> Period:
    """The subscription's period at ``now``, from the last one the entitlement sync wrote.

    A renewal starts where the last period ended (Stripe's periods follow the billing cycle
    anchor, a January 31 anchor renewing on February 28 or 29, then March 31:
    https://docs.stripe.com/billing/subscriptions/billing-cycle), so counts reset at the right
    second; until the sync writes the renewal its end is estimated from the last length.
    """
    length = max(end - start, 1)
    if now >= end:
        skipped = int((now - end) // length)  # whole periods the sync has not written yet
        start = end + skipped * length
        end = start + length
    return Period(start, end, "subscription")


@dataclass(frozen=True)
class Plan:
    """What a subject may use: its limits and the period they count in."""

    limits: dict[str, Limit]
    period: Period
    free: bool


def parse_limits(raw: Any) -> dict[str, Limit]:
    limits: dict[str, Limit] = {}
    if isinstance(raw, dict):
        for meter, spec in raw.items():
            if isinstance(spec, dict) and isinstance(spec.get("included"), int):
                limits[str(meter)] = Limit(spec["included"], bool(spec.get("overage", False)))
    return limits


def plan_of(entitlement: dict[str, Any] | None, free: dict[str, Limit], now: float) -> Plan:
    """The plan an entitlement document gives, the free plan when it gives none."""
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
    """The document that counts ``subject``'s usage in the period starting at ``start``."""
    return f"{COUNTS}/{subject_doc_id(subject)}/{PERIODS}/{start}"


def used_in(document: dict[str, Any] | None) -> dict[str, int]:
    """The units used per meter in a period's counts document (none when it does not exist)."""
    used = (document or {}).get("used") or {}
    if not isinstance(used, dict):
        return {}
    return {str(k): v for k, v in used.items() if isinstance(v, int)}
