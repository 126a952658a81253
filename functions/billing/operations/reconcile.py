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
    dry_run: bool = Field(default=False, description="Report what would change; write nothing.")


class Change(ResponseModel):
    uid: str
    changed: dict[str, list[Any]] = Field(description="field -> [stored, in Stripe]")


class ReconcileSummary(ResponseModel):
    dry_run: bool
    checked: int
    changed: int
    failed: int
    changes: list[Change]


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
                sync.sync(ctx, uid, customer_id)
                id_token.publish_for(ctx, uid)
        except Exception:  # one customer's failure must not stop the others
            failed += 1
            log.exception("reconcile failed for one customer", extra={"uid": uid})
    return ReconcileSummary(
        dry_run=dry_run, checked=checked, changed=len(changes), failed=failed, changes=changes
    )


def reconcile(ctx: Context, body: ReconcileRequest) -> ReconcileSummary:
    """Re-sync every known customer's entitlement from Stripe."""
    summary = reconcile_customers(ctx, ctx.runtime.customers.linked(), dry_run=body.dry_run)
    log.info(
        "reconciled",
        extra={"checked": summary.checked, "changed": summary.changed, "failed": summary.failed},
    )
    return summary


def _run(ctx: Context, uids: list[str] | None, *, dry_run: bool) -> ReconcileSummary:
    if not uids:
        return reconcile(ctx, ReconcileRequest(dry_run=dry_run))
    pairs = []
    for uid in uids:
        record = ctx.runtime.customers.get(uid)
        if record is None or record.customer_id is None:
            sys.stderr.write(f"{uid}: no Stripe customer; skipped\n")
            continue
        pairs.append((uid, record.customer_id))
    return reconcile_customers(ctx, pairs, dry_run=dry_run)


def main(argv: list[str] | None = None) -> int:
    from billing import runtime
    from core import logs

    parser = argparse.ArgumentParser(
        prog="python -m billing.operations.reconcile", description=__doc__
    )
    parser.add_argument("--uid", action="append", help="only this user (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="show changes, write nothing")
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    ctx = Context(runtime=runtime.current(), request_id=uuid.uuid4().hex)
    try:
        summary = _run(ctx, args.uid, dry_run=args.dry_run)
    except Exception as exc:  # noqa: BLE001 - a command answers with a line, not a traceback
        sys.stderr.write(
            f"reconcile stopped: {type(exc).__name__} (are Stripe and Firestore reachable?); "
            "re-run when they are: it is safe to repeat.\n"
        )
        return 2
    for change in summary.changes:
        for name, (stored, fresh) in change.changed.items():
            sys.stdout.write(f"{change.uid}: {name}: {stored!r} -> {fresh!r}\n")
    verb = "would change" if summary.dry_run else "changed"
    sys.stdout.write(
        f"checked {summary.checked}, {verb} {summary.changed}, failed {summary.failed}"
        + (" (dry run: nothing written)" if summary.dry_run else "")
        + "\n"
    )
    return 1 if summary.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
