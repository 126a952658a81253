"""Re-sync customers' entitlements from Stripe: after an outage longer than Stripe's three days
of webhook retries, to backfill, or on a schedule as a safety net.

The ``reconcile`` job function runs it: Cloud Scheduler calls it daily with its OIDC token, and
``make reconcile`` calls the local stack's with a token the stack signs for its stand-in
scheduler (``python -m devstack reconcile``). Every run says its mode.
Safe to re-run: each user goes through the same guarded sync as a webhook event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from billing.context import Context, RequestModel, ResponseModel
from billing.entitlements import id_token, sync
from billing.entitlements.sync import ENTITLEMENTS
from core.firestore import doc_id

log = logging.getLogger(__name__)

COMPARED = ("active", "status", "subscription_id", "price_id", "features", "valid_until")
# A run over named users is a person's repair; more than this is a run over everyone.
MAX_UIDS = 100

Uid = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ReconcileRequest(RequestModel):
    dry_run: bool = Field(
        description="Required, so every run says its mode: true reports what would change and "
        "writes nothing; false repairs every entitlement that differs from Stripe."
    )
    usage_drift: bool = Field(
        default=False,
        description="Also compare each customer's quota counts with Stripe's meter summaries "
        "for the current period (one Stripe read per customer and meter).",
    )
    uids: list[Uid] = Field(
        default_factory=list,
        max_length=MAX_UIDS,
        description="Only these users (Firebase uids); empty: every customer.",
    )


class UsageDrift(ResponseModel):
    uid: str
    meter: str
    counted: int = Field(description="Units consumed through the quota helper this period.")
    in_stripe: float = Field(description="Stripe's meter summary over the same period.")
    period_start: int
    period_end: int


class Change(ResponseModel):
    uid: str
    changed: dict[str, list[Any]] = Field(description="field -> [stored, in Stripe]")


class ReconcileSummary(ResponseModel):
    dry_run: bool
    checked: int
    changed: int
    failed: int
    changes: list[Change]
    usage_drift: list[UsageDrift] = Field(default_factory=list)
    skipped: list[str] = Field(
        default_factory=list, description="Users asked for by uid who have no Stripe customer."
    )


def _stored(ctx: Context, uid: str) -> dict[str, Any]:
    snapshot = (
        ctx.runtime.firestore.collection(ENTITLEMENTS)
        .document(doc_id(uid))
        .get(timeout=ctx.runtime.settings.firestore_timeout_seconds)
    )
    return snapshot.to_dict() or {}


def reconcile_customers(
    ctx: Context, pairs: Iterable[tuple[str, str]], *, dry_run: bool
) -> ReconcileSummary:
    checked = failed = 0
    changes = []
    for uid, customer_id in pairs:
        checked += 1
        try:
            before = _stored(ctx, uid)
            after = sync.read(ctx, uid, customer_id)
            diff = {
                name: [before.get(name), getattr(after, name)]
                for name in COMPARED
                if before.get(name) != getattr(after, name)
            }
            if diff:
                changes.append(Change(uid=uid, changed=diff))
            if not dry_run:
                synced = sync.sync(ctx, uid, customer_id)
                written = synced.entitlement.document(), synced.version
                id_token.publish_for(ctx, uid, written if synced.written else None)
        except Exception:  # one customer's failure must not stop the others
            failed += 1
            log.exception("reconcile failed for one customer", extra={"uid": uid})
    return ReconcileSummary(
        dry_run=dry_run, checked=checked, changed=len(changes), failed=failed, changes=changes
    )


def with_usage_drift(
    ctx: Context, summary: ReconcileSummary, pairs: list[tuple[str, str]]
) -> ReconcileSummary:
    from billing.usage import drift

    found = [
        UsageDrift(
            uid=d.subject,
            meter=d.meter,
            counted=d.counted,
            in_stripe=d.in_stripe,
            period_start=d.period_start,
            period_end=d.period_end,
        )
        for d in drift.drift(ctx, pairs)
    ]
    return summary.model_copy(update={"usage_drift": found})


def reconcile(ctx: Context, body: ReconcileRequest) -> ReconcileSummary:
    """Re-sync the entitlement of every known customer (or of ``body.uids``) from Stripe."""
    skipped: list[str] = []
    if body.uids:
        pairs = []
        for uid in dict.fromkeys(body.uids):
            record = ctx.runtime.customers.get(uid)
            if record is None or record.customer_id is None:
                skipped.append(uid)
            else:
                pairs.append((uid, record.customer_id))
    else:
        pairs = list(ctx.runtime.customers.linked())
    summary = reconcile_customers(ctx, pairs, dry_run=body.dry_run)
    if body.usage_drift:
        summary = with_usage_drift(ctx, summary, pairs)
    log.info(
        "reconciled",
        extra={
            "dry_run": summary.dry_run,
            "checked": summary.checked,
            "changed": summary.changed,
            "failed": summary.failed,
        },
    )
    return summary.model_copy(update={"skipped": skipped})
