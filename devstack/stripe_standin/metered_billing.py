"""Metered prices on subscriptions: what a period's usage costs, billed in arrears.

Modelled on Stripe's docs, which the product relies on:
- a metered price (``recurring.usage_type=metered``) bills from its meter
  (``recurring.meter``): the invoice at each period's end has a line for the usage of that
  period, the meter's summary of the customer's events in it (after de-duplication: repeats
  were refused when reported, see ``meters``), priced by the price
  (https://docs.stripe.com/billing/subscriptions/usage-based/how-it-works);
- ``billing_scheme=tiered`` with ``tiers_mode=graduated`` prices each unit by the tier it falls
  in (https://docs.stripe.com/products-prices/pricing-models#graduated-pricing); ``tiers``
  appears on the price only when expanded (stored apart here);
- a metered item has no quantity (https://docs.stripe.com/billing/subscriptions/quantities);
- swapping a metered price mid-period (flexible billing mode) bills the usage so far at the old
  price on the update's invoice, and the new price counts usage from the update on
  (https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup, "Update
  prices mid-cycle"); ``proration_behavior=none`` leaves that usage unbilled;
- a subscription cancelled at its period end bills the last period's usage in a final invoice
  ("Any metered usage is charged for in a final invoice when the subscription cancels at the
  end of the billing period", https://docs.stripe.com/billing/subscriptions/cancel).

Not modelled: usage during a trial, immediate cancellation with ``invoice_now`` (refused by
name), volume tiers, flat tier amounts, ``transform_quantity``.
"""

from __future__ import annotations

from typing import Any

from devstack.stripe_standin import objects
from devstack.stripe_standin.state import State

JSONDict = dict[str, Any]


def is_metered(price: JSONDict) -> bool:
    recurring = price.get("recurring") or {}
    return bool(recurring.get("usage_type") == "metered")


def amount(state: State, price: JSONDict, quantity: int) -> int:
    """What ``quantity`` units cost at ``price``: graduated tiers, or per unit."""
    tiers = state.data.price_tiers.get(price["id"])
    if not tiers:
        return int(price["unit_amount"] or 0) * quantity
    total, below = 0, 0
    for tier in tiers:
        up_to = tier["up_to"]
        top = quantity if up_to is None else min(quantity, int(up_to))
        if top > below:
            total += (top - below) * int(tier["unit_amount"] or 0)
            below = top
        if below >= quantity:
            break
    return total


def usage(state: State, sub: JSONDict, item: JSONDict, start: int, end: int) -> int:
    """The meter's summary of the customer's usage on ``item`` within ``[start, end)``."""
    meter = state.data.meters.meters.get(item["price"]["recurring"]["meter"] or "")
    if meter is None:
        return 0
    since = max(start, state.data.metered_since.get(item["id"], start))
    return int(state.data.meters.aggregate(meter, sub["customer"], since, end))


def line(
    state: State, invoice_id: str, sub: JSONDict, item: JSONDict, start: int, end: int
) -> JSONDict:
    """The invoice line billing ``item``'s usage of ``[start, end)``."""
    quantity = usage(state, sub, item, start, end)
    price = item["price"]
    name = state.data.products[price["product"]]["name"]
    text = f"{quantity} × {name} usage"  # noqa: RUF001 - Stripe's wording
    billed = {**item, "quantity": quantity}
    return objects.invoice_line(
        invoice_id, sub["id"], billed, amount(state, price, quantity), text, start, end
    )


def has_usage(state: State, sub: JSONDict, start: int, end: int) -> bool:
    return any(
        usage(state, sub, item, start, end) > 0
        for item in sub["items"]["data"]
        if is_metered(item["price"])
    )
