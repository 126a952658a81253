"""A subscription's pending update (``payment_behavior=pending_if_incomplete``): applied when its
invoice is paid, discarded when it expires. Below invoicing (which pays the invoice) and
subscription updates (which create the pending update)."""

from __future__ import annotations

from devstack.stripe_standin import objects
from devstack.stripe_standin.state import JSONDict, Origin, PendingChange, State, snapshot


def apply(state: State, pending: PendingChange, origin: Origin) -> None:
    sub = state.data.subscriptions[pending.subscription]
    before = snapshot(sub)
    was_pending = sub["pending_update"] is not None
    for item in sub["items"]["data"]:
        price_id = pending.prices.get(item["id"])
        if price_id is not None:
            price = snapshot(state.data.prices[price_id])
            item.update({"price": price, "plan": objects.plan_from_price(price)})
            if (price["recurring"] or {}).get("usage_type") == "metered":
                state.data.metered_since[item["id"]] = pending.at  # its usage counts from then
        if pending.period is not None:
            start, end = pending.period
            item.update(current_period_start=start, current_period_end=end, billed_until=end)
    if pending.period is not None:
        sub["billing_cycle_anchor"] = pending.period[0]
    state.data.coverage.update(pending.coverage)
    if pending.discounts is not None:
        sub["discounts"] = list(pending.discounts)
    sub["pending_update"] = None
    state.emit_update("customer.subscription.updated", sub, before, origin)
    if was_pending:
        # "customer.subscription.pending_update_applied: Occurs whenever a customer's
        # subscription's pending update is applied, and the subscription is updated"
        # (https://docs.stripe.com/api/events/types).
        state.emit_update("customer.subscription.pending_update_applied", sub, before, origin)


def invoice_paid(state: State, invoice: JSONDict, origin: Origin) -> None:
    """A pending change applies once its invoice is paid."""
    pending = state.data.pending_changes.pop(invoice["id"], None)
    if pending is not None:
        apply(state, pending, origin)


def is_pending(state: State, invoice: JSONDict) -> bool:
    return invoice["id"] in state.data.pending_changes


def expire(state: State, sub: JSONDict, origin: Origin) -> list[str]:
    """A pending update not paid in time is discarded; answers the ids of its invoices, which
    the caller voids (so nobody can pay for a change that will never happen)."""
    dropped = []
    for invoice_id, pending in list(state.data.pending_changes.items()):
        if pending.subscription == sub["id"]:
            del state.data.pending_changes[invoice_id]
            dropped.append(invoice_id)
    before = snapshot(sub)
    sub["pending_update"] = None
    state.emit_update("customer.subscription.pending_update_expired", sub, before, origin)
    return dropped
