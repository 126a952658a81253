"""Re-sync customers' entitlements from Stripe: after an outage longer than Stripe's three days
of webhook retries, to backfill, or on a schedule as a safety net.

``python -m billing.operations.reconcile [--uid UID ...] [--dry-run]`` (``make reconcile``)
runs it from a shell with the functions' environment; the ``reconcile`` function runs it for
Cloud Scheduler.
Safe to re-run: each user goes through the same guarded sync as a webhook event.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from billing.context import Context, RequestModel, ResponseModel
from billing.entitlements import id_token, sync
from billing.entitlements.sync import ENTITLEMENTS
from core.firestore import doc_id

log = logging.getLogger(__name__)

COMPARED = ("active", "status", "subscription_id", "price_id", "features", "valid_until")


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
    """Re-sync every known customer's entitlement from Stripe."""
    pairs = list(ctx.runtime.customers.linked())
    summary = reconcile_customers(ctx, pairs, dry_run=body.dry_run)
    if body.usage_drift:
        summary = with_usage_drift(ctx, summary, pairs)
    log.info(
        "reconciled",
        extra={"checked": summary.checked, "changed": summary.changed, "failed": summary.failed},
    )
    return summary


def _run(
    ctx: Context, uids: list[str] | None, *, dry_run: bool, usage_drift: bool = False
) -> ReconcileSummary:
    if not uids:
        return reconcile(ctx, ReconcileRequest(dry_run=dry_run, usage_drift=usage_drift))
    pairs = []
    for uid in uids:
        record = ctx.runtime.customers.get(uid)
        if record is None or record.customer_id is None:
            sys.stderr.write(f"{uid}: no Stripe customer; skipped\n")
            continue
        pairs.append((uid, record.customer_id))
    summary = reconcile_customers(ctx, pairs, dry_run=dry_run)
    return with_usage_drift(ctx, summary, pairs) if usage_drift else summary


def main(argv: list[str] | None = None) -> int:
    from billing import runtime
    from core import logs

    parser = argparse.ArgumentParser(
        prog="python -m billing.operations.reconcile", description=__doc__
    )
    parser.add_argument("--uid", action="append", help="only this user (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="show changes, write nothing")
    parser.add_argument(
        "--usage-drift",
        action="store_true",
        help="also compare quota counts with Stripe's meter summaries this period",
    )
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    ctx = Context(runtime=runtime.current(), request_id=uuid.uuid4().hex)
    try:
        summary = _run(ctx, args.uid, dry_run=args.dry_run, usage_drift=args.usage_drift)
    except Exception as exc:  # noqa: BLE001 - a command answers with a line, not a traceback
        sys.stderr.write(
            f"reconcile stopped: {type(exc).__name__} (are Stripe and Firestore reachable?); "
            "re-run when they are: it is safe to repeat.\n"
        )
        return 2
    for change in summary.changes:
        for name, (stored, fresh) in change.changed.items():
            sys.stdout.write(f"{change.uid}: {name}: {stored!r} -> {fresh!r}\n")
    for found in summary.usage_drift:
        sys.stdout.write(
            f"{found.uid}: usage drift on {found.meter}: counted {found.counted}, "
            f"in Stripe {found.in_stripe:g} (period from {found.period_start})\n"
        )
    verb = "would change" if summary.dry_run else "changed"
    sys.stdout.write(
        f"checked {summary.checked}, {verb} {summary.changed}, failed {summary.failed}"
        + (" (dry run: nothing written)" if summary.dry_run else "")
        + "\n"
    )
    return 1 if summary.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
