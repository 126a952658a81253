"""Changing a subscription item's price: prorations, pending updates, and their previews.

What is modelled (flexible billing mode): ``proration_behavior=always_invoice`` bills at once a
credit for the unused share of what was charged for the old price and a charge for the rest of
the period at the new one, discounted by the discounts the subscription has after the change
(flexible billing mode with ``proration_discounts=included``: the line's amount is net, see
:func:`discounts.on_proration`); ``none`` swaps the price without an invoice. With
``payment_behavior=pending_if_incomplete`` the change waits in ``pending_update`` until that
invoice is paid (a negative or zero invoice is paid at once, its credit kept on the customer's
balance). ``proration_date`` fixes the moment prorations are computed for. Previews
(``invoices.create_preview``) run the same computation without storing anything.
A change of billing interval (monthly <-> yearly) restarts the billing period at the moment of
the change and bills the new period in full at once, less the credit for the unused time
(see :func:`_new_period`).
A metered item's price is swapped too: the usage so far is billed at the old price on the
update's invoice (none with ``proration_behavior=none``) and the new price counts usage from
the change on (metered_billing).
Not modelled, and refused: ``create_prorations``, other payment behaviours, quantity changes,
adding or removing items (pending updates take neither), an interval change with
``proration_behavior=none``, changes while trialing.

All functions expect the caller to hold ``state.lock``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from devstack.stripe_standin import (
    discounts,
    ids,
    invoicing,
    metered_billing,
    objects,
    pending_updates,
    periods,
)
from devstack.stripe_standin.api_errors import invalid_request
from devstack.stripe_standin.invoicing import period_line_description
from devstack.stripe_standin.state import (
    Coverage,
    Origin,
    PendingChange,
    State,
    check_item_price,
    get_param_object,
    snapshot,
)

JSONDict = dict[str, Any]

PENDING_UPDATE_LIFETIME = 23 * 3600
# What Stripe accepts together with payment_behavior=pending_if_incomplete.
PENDING_ALLOWED = frozenset(
    {
        "expand",
        "payment_behavior",
        "proration_behavior",
        "proration_date",
        "billing_cycle_anchor",
        "items",
        "trial_end",
        "trial_from_plan",
        "add_invoice_items",
        "metadata",
        "discounts",
    }
)
IMPLEMENTED = frozenset(
    {"expand", "payment_behavior", "proration_behavior", "proration_date", "items", "discounts"}
)


def _unimplemented(what: str, param: str) -> Exception:
    return invalid_request(f"The Stripe stand-in does not implement {what}.", param=param)


def _half_up(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def _day(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%d %b %Y")


def _new_prices(
    state: State, sub: JSONDict, items: list[JSONDict], param: str = "items"
) -> dict[str, JSONDict]:
    """item id -> the price it changes to, for the items whose price changes."""
    by_id = {item["id"]: item for item in sub["items"]["data"]}
    changes: dict[str, JSONDict] = {}
    for index, entry in enumerate(items):
        where = f"{param}[{index}]"
        extra = sorted(set(entry) - {"id", "price"})
        if extra:
            raise _unimplemented(f"{where}[{extra[0]}] on item changes", f"{where}[{extra[0]}]")
        if "id" not in entry:
            raise _unimplemented("adding subscription items (each needs an id)", f"{where}[id]")
        item = by_id.get(entry["id"])
        if item is None:
            raise invalid_request(
                f"No such subscription item: '{entry['id']}'", param=f"{where}[id]"
            )
        if "price" not in entry:
            continue
        price = get_param_object(state, "prices", "price", entry["price"], f"{where}[price]")
        check_item_price(sub, price, f"{where}[price]")
        if item["price"]["recurring"]["usage_type"] != price["recurring"]["usage_type"]:
            raise invalid_request(
                "A subscription item's price cannot change between licensed and metered usage.",
                param=f"{where}[price]",
            )
        if price["id"] != item["price"]["id"]:
            changes[item["id"]] = price
    return changes


def _recurring(price: JSONDict) -> tuple[str, int]:
    return str(price["recurring"]["interval"]), int(price["recurring"]["interval_count"])


def _new_period(sub: JSONDict, changes: dict[str, JSONDict], now: int) -> tuple[int, int] | None:
    """The billing period a change of interval starts, or None when the interval stays.

    "If both prices have the same billing periods (combination of interval and
    interval_count), the subscription retains the same billing dates. If the prices have
    different billing periods, the new price is billed at the new interval, starting on the
    day of the change" (https://docs.stripe.com/billing/subscriptions/upgrade-downgrade,
    "Billing periods"), and "Stripe immediately attempts payment for these subscription
    changes: ... when the billing period changes" (same page, "Immediate payment"). So the
    billing cycle anchor moves to the change, and the invoice made at once charges the whole
    new period with the credit for the unused time on the old price.
    """
    if not changes:
        return None
    items = sub["items"]["data"]
    after = {_recurring(changes.get(item["id"], item["price"])) for item in items}
    if len(after) != 1:
        raise invalid_request(
            "All prices on a subscription must have the same `recurring.interval` and "
            "`recurring.interval_count`.",
            param="items",
        )
    if after == {_recurring(item["price"]) for item in items}:
        return None
    [(interval, count)] = after
    return now, periods.shift(now, interval, count, 1)


def _recurring_amount(sub: JSONDict, changes: dict[str, JSONDict]) -> int:
    """What each period bills once the change is made (before discounts)."""
    return sum(
        int(changes.get(item["id"], item["price"])["unit_amount"]) * int(item["quantity"])
        for item in sub["items"]["data"]
        if not metered_billing.is_metered(item["price"])
    )


def _proration_date(sub: JSONDict, value: Any, now: int, param: str) -> int:
    """Stripe takes any moment of the current period, later than now included: Stripe staff
    previewed a change at ``current_period_end`` and answered "Cannot specify proration date
    before the current subscription started" for an earlier one
    (https://groups.google.com/a/lists.stripe.com/g/api-discuss/c/uTg9uWzU7qo). Refusing the
    future here would hide a product that passes one on (an upgrade made almost free)."""
    items = sub["items"]["data"]
    start = max(int(i["current_period_start"]) for i in items)
    end = min(int(i["current_period_end"]) for i in items)
    moment = now if value is None else int(value)
    if moment < start:
        raise invalid_request(
            "Cannot specify proration date before the current subscription started.",
            param=param,
        )
    if moment > end:
        raise invalid_request(
            "Cannot specify proration date outside of current subscription period.", param=param
        )
    return moment


def _line(
    invoice_id: str, sub: JSONDict, item: JSONDict, price: JSONDict, amount: int, text: str, at: int
) -> JSONDict:
    line = objects.invoice_line(
        invoice_id,
        sub["id"],
        {**item, "price": price},
        amount,
        text,
        at,
        int(item["current_period_end"]),
    )
    line["discountable"] = False
    details = line["parent"]["subscription_item_details"]
    details["proration"] = True
    details["invoice_item"] = ids.new_id("ii")
    details["proration_details"] = {"credited_items": None}
    return line


def _prorations(
    state: State,
    sub: JSONDict,
    changes: dict[str, JSONDict],
    at: int,
    invoice_id: str,
    applied: list[JSONDict],
    new_period: tuple[int, int] | None = None,
) -> tuple[list[JSONDict], dict[str, Coverage], set[str]]:
    """The credit and debit lines of a price change at ``at``, what each item is then covered
    for, and the ids of the discounts that reduced a debit. When the interval changes
    (``new_period``), the debit is the whole new period instead (see :func:`_interval_switch`)."""
    if new_period is not None:
        lines, coverage = _interval_switch(state, sub, changes, at, invoice_id, new_period)
        return lines, coverage, set()
    lines, coverage, used = [], {}, set()
    for item in sub["items"]["data"]:
        new = changes.get(item["id"])
        if new is None:
            continue
        if metered_billing.is_metered(item["price"]):
            # The usage so far, at the old price (flexible billing mode; metered_billing).
            usage = metered_billing.line(
                state, invoice_id, sub, item, int(item["current_period_start"]), at
            )
            if usage["quantity"]:
                usage["parent"]["subscription_item_details"]["invoice_item"] = ids.new_id("ii")
                lines.append(usage)
            continue
        start, end = int(item["current_period_start"]), int(item["current_period_end"])
        product = state.data.products
        old = item["price"]
        credit = _credit(state, item, at)
        period_net, reduced = discounts.on_proration(
            state, applied, new["product"], int(new["unit_amount"]) * item["quantity"], at
        )
        used.update(reduced)
        debit = _half_up(period_net * (end - at) / (end - start))
        day = _day(at)
        lines.append(
            _line(
                invoice_id, sub, item, old, -credit,
                f"Unused time on {product[old['product']]['name']} after {day}", at,
            )
        )  # fmt: skip
        remaining = _line(
            invoice_id, sub, item, new, debit,
            f"Remaining time on {product[new['product']]['name']} after {day}", at,
        )  # fmt: skip
        # "included": the discounts are in the amount already, listed with amount 0.
        remaining["discount_amounts"] = [{"amount": 0, "discount": di} for di in reduced]
        lines.append(remaining)
        coverage[item["id"]] = Coverage(debit, at, end)
    return lines, coverage, used


def _credit(state: State, item: JSONDict, at: int) -> int:
    """The unused share of what was debited for the item's current period."""
    start, end = int(item["current_period_start"]), int(item["current_period_end"])
    covered = state.data.coverage.get(item["id"])
    if covered is not None and covered.end > at:
        return _half_up(covered.net_amount * (covered.end - at) / (covered.end - covered.start))
    listed = int(item["price"]["unit_amount"]) * int(item["quantity"])
    return _half_up(listed * (end - at) / (end - start))


def _interval_switch(
    state: State,
    sub: JSONDict,
    changes: dict[str, JSONDict],
    at: int,
    invoice_id: str,
    new_period: tuple[int, int],
) -> tuple[list[JSONDict], dict[str, Coverage]]:
    """Every item restarts its period: unused time credited (a proration line), the new period
    billed in full (a regular, discountable subscription line)."""
    start, end = new_period
    lines, coverage = [], {}
    products = state.data.products
    for item in sub["items"]["data"]:
        old = item["price"]
        new = changes.get(item["id"], old)
        if metered_billing.is_metered(old):
            # Billed in arrears: the usage so far at the old price, nothing ahead.
            usage = metered_billing.line(
                state, invoice_id, sub, item, int(item["current_period_start"]), at
            )
            if usage["quantity"]:
                usage["parent"]["subscription_item_details"]["invoice_item"] = ids.new_id("ii")
                lines.append(usage)
            continue
        credit = _credit(state, item, at)
        lines.append(
            _line(
                invoice_id, sub, item, old, -credit,
                f"Unused time on {products[old['product']]['name']} after {_day(at)}", at,
            )
        )  # fmt: skip
        amount = int(new["unit_amount"]) * int(item["quantity"])
        lines.append(
            objects.invoice_line(
                invoice_id,
                sub["id"],
                {**item, "price": new},
                amount,
                period_line_description(state, new, int(item["quantity"])),
                start,
                end,
            )
        )
        coverage[item["id"]] = Coverage(amount, start, end)
    return lines, coverage


def _is_proration(line: JSONDict) -> bool:
    return bool(line["parent"]["subscription_item_details"]["proration"])


def _net_coverage(invoice: JSONDict, coverage: dict[str, Coverage]) -> dict[str, Coverage]:
    """What a new period was debited net of discounts (a later change credits a share of it)."""
    net = dict(coverage)
    for line in invoice["lines"]["data"]:
        details = line["parent"]["subscription_item_details"]
        if details["proration"] or details["subscription_item"] not in net:
            continue
        old = net[details["subscription_item"]]
        off = sum(d["amount"] for d in line["discount_amounts"])
        net[details["subscription_item"]] = Coverage(old.net_amount - off, old.start, old.end)
    return net


def _proration_invoice(
    state: State, sub: JSONDict, lines: list[JSONDict], invoice_id: str, at: int
) -> JSONDict:
    customer = state.data.customers[sub["customer"]]
    invoice = objects.invoice(
        invoice_id, customer, sub, "subscription_update", lines, at, at, state.now()
    )
    invoice["parent"]["subscription_details"]["subscription_proration_date"] = at
    return invoice


# --- updating a subscription ----------------------------------------------------------------


def check_params(sub: JSONDict, params: JSONDict) -> None:
    behavior = params.get("payment_behavior", "allow_incomplete")
    if behavior != "pending_if_incomplete":
        raise _unimplemented(
            f"item changes with payment_behavior={behavior} (only pending_if_incomplete)",
            "payment_behavior",
        )
    for key in sorted(params):
        if key not in PENDING_ALLOWED:
            raise invalid_request(
                f"You cannot pass `{key}` with payment_behavior=pending_if_incomplete.", param=key
            )
        if key not in IMPLEMENTED:
            raise _unimplemented(f"`{key}` with pending_if_incomplete", key)
    proration = params.get("proration_behavior", "create_prorations")
    if proration not in ("always_invoice", "none"):
        raise _unimplemented(f"proration_behavior={proration}", "proration_behavior")
    if sub["status"] != "active":
        raise _unimplemented(f"item changes on a {sub['status']} subscription", "items")
    if sub["pending_update"] is not None:
        raise _unimplemented("updating a subscription that has a pending update", "items")


def change(state: State, sub: JSONDict, params: JSONDict, origin: Origin) -> None:
    """``POST /v1/subscriptions/{id}`` with ``items`` (see :func:`check_params` first)."""
    check_params(sub, params)
    now = state.now()
    changes = _new_prices(state, sub, params["items"])
    at = _proration_date(sub, params.get("proration_date"), now, "proration_date")
    new_discounts = None
    if "discounts" in params:
        promos = discounts.promotion_codes_of(
            state,
            params["discounts"],
            sub["customer"],
            sub["currency"],
            amount=_recurring_amount(sub, changes),
        )
        new_discounts = discounts.redeem(state, promos, sub["customer"], sub["id"])
    after = list(sub["discounts"]) if new_discounts is None else new_discounts
    applied = [state.data.discounts[di] for di in after if di in state.data.discounts]
    new_period = _new_period(sub, changes, now)
    if new_period is not None and params.get("proration_behavior") == "none":
        raise _unimplemented(
            "a change of billing interval with proration_behavior=none", "proration_behavior"
        )
    invoice_id = ids.new_id("in")
    lines, coverage, used = _prorations(state, sub, changes, at, invoice_id, applied, new_period)
    if params.get("proration_behavior") != "none" and used:
        kept = discounts.without_used_once(state, after, used)
        if kept != after:
            new_discounts = kept
    pending = PendingChange(
        sub["id"],
        {item: price["id"] for item, price in changes.items()},
        new_discounts,
        coverage,
        new_period,
        at=at,
    )
    if not lines or params.get("proration_behavior") == "none":
        pending_updates.apply(state, pending, origin)
        return
    before = snapshot(sub)
    invoice = _proration_invoice(state, sub, lines, invoice_id, at)
    # Proration lines carry their discounts in their amounts and are listed here; the regular
    # line of an interval change's new period is discounted here, as a renewal would be.
    discounts.apply(state, invoice, applied)
    if new_period is not None:
        pending.coverage = _net_coverage(invoice, coverage)
        spent = {e["discount"] for e in invoice["total_discount_amounts"] if e["amount"]}
        kept = discounts.without_used_once(state, after, spent)
        if kept != after:
            pending.discounts = kept
    state.data.invoices[invoice_id] = invoice
    state.data.pending_changes[invoice_id] = pending
    sub["latest_invoice"] = invoice_id
    state.emit("invoice.created", invoice, origin)
    invoicing.finalize_invoice(state, invoice, sub, origin)
    if invoice["status"] != "paid":
        pm_id = invoicing.default_payment_method_id(state, sub)
        pm = state.data.payment_methods.get(pm_id) if pm_id else None
        invoicing.pay_invoice(state, invoice, pm, origin, quiet_subscription=True)
    if invoice_id in state.data.pending_changes:
        sub["pending_update"] = _pending_update(state, sub, pending, now)
        state.emit_update("customer.subscription.updated", sub, before, origin)


def expires_at(sub: JSONDict, now: int) -> int:
    """When an unpaid change lapses: the earliest of the current period's end, the trial's end
    and 23 hours (https://docs.stripe.com/billing/subscriptions/pending-updates-reference,
    "Expiration"). Waiting 23 hours past the period end would let a customer pay, after the
    renewal, for a change to a period that is over."""
    ends = [now + PENDING_UPDATE_LIFETIME]
    ends += [int(item["current_period_end"]) for item in sub["items"]["data"]]
    if sub.get("trial_end"):
        ends.append(int(sub["trial_end"]))
    return min(ends)


def _pending_update(state: State, sub: JSONDict, pending: PendingChange, now: int) -> JSONDict:
    """What ``pending_update`` shows. An interval change waiting here keeps the anchor of the
    moment it was requested (``billing_cycle_anchor``) when its invoice is paid later: Stripe
    documents the field ("determines the date of the first full invoice"), not the period a
    late payment starts, so this is the stand-in's reading, not a documented fact."""
    items = []
    for item in sub["items"]["data"]:
        future = snapshot(item)
        price_id = pending.prices.get(item["id"])
        if price_id is not None:
            price = snapshot(state.data.prices[price_id])
            future.update({"price": price, "plan": objects.plan_from_price(price)})
        items.append(future)
    # Stripe sends every field of a pending update; the ones this change leaves alone are null.
    return {
        "billing_cycle_anchor": None if pending.period is None else pending.period[0],
        "cancel_at_period_end": None,
        "discount": None,
        "discounts": None if pending.discounts is None else list(pending.discounts),
        "expires_at": expires_at(sub, now),
        "metadata": None,
        "subscription_items": items,
        "trial_end": None,
        "trial_from_plan": None,
    }


# --- previews -------------------------------------------------------------------------------

PREVIEW_PARAMS = frozenset(
    {"customer", "subscription", "subscription_details", "discounts", "expand"}
)
PREVIEW_DETAILS = frozenset({"items", "proration_behavior", "proration_date"})


def preview(state: State, params: JSONDict) -> JSONDict:
    """``POST /v1/invoices/create_preview`` for a change to an existing subscription."""
    unknown = sorted(set(params) - PREVIEW_PARAMS)
    if unknown:
        raise _unimplemented(f"previews with `{unknown[0]}`", unknown[0])
    if "subscription" not in params:
        raise _unimplemented("previews of new subscriptions (pass `subscription`)", "subscription")
    sub = get_param_object(
        state, "subscriptions", "subscription", params["subscription"], "subscription"
    )
    if params.get("customer", sub["customer"]) != sub["customer"]:
        raise invalid_request(
            "The subscription does not belong to the customer you specified.", param="customer"
        )
    details = params.get("subscription_details") or {}
    unknown = sorted(set(details) - PREVIEW_DETAILS)
    if unknown:
        where = f"subscription_details[{unknown[0]}]"
        raise _unimplemented(where, where)
    behavior = details.get("proration_behavior", "create_prorations")
    if behavior not in ("always_invoice", "none"):
        raise _unimplemented(
            f"previews with proration_behavior={behavior}",
            "subscription_details[proration_behavior]",
        )
    if sub["status"] != "active":
        raise _unimplemented(f"previews of a {sub['status']} subscription", "subscription")
    changes = _new_prices(
        state, sub, details.get("items") or [], param="subscription_details[items]"
    )
    if "discounts" in params:
        promos = discounts.promotion_codes_of(
            state,
            params["discounts"],
            sub["customer"],
            sub["currency"],
            amount=_recurring_amount(sub, changes),
        )
        applied = discounts.preview_discounts(state, promos, sub["customer"])
    else:
        applied = discounts.of_subscription(state, sub)
    invoice_id = "upcoming_" + ids.new_id("in")
    now = state.now()
    new_period = _new_period(sub, changes, now)
    if behavior == "always_invoice":
        at = _proration_date(
            sub, details.get("proration_date"), now, "subscription_details[proration_date]"
        )
        lines, _, _ = _prorations(state, sub, changes, at, invoice_id, applied, new_period)
        invoice = _proration_invoice(state, sub, lines, invoice_id, at)
    elif new_period is not None:
        # Without prorations an interval change still bills its new period at once, in full.
        lines, _ = _interval_switch(state, sub, changes, now, invoice_id, new_period)
        lines = [line for line in lines if line["amount"] >= 0 and not _is_proration(line)]
        customer = state.data.customers[sub["customer"]]
        invoice = objects.invoice(
            invoice_id, customer, sub, "subscription_update", lines, now, now, now
        )
    else:
        invoice = _renewal(state, sub, changes, invoice_id)
    discounts.apply(state, invoice, applied)
    customer = state.data.customers[sub["customer"]]
    balance = int(customer["balance"])
    invoice["starting_balance"] = balance
    invoice["amount_due"] = invoice["amount_remaining"] = max(0, int(invoice["total"]) + balance)
    # A preview is never finalized: it has no hosted page or PDF.
    del invoice["hosted_invoice_url"], invoice["invoice_pdf"]
    return invoice


def _renewal(
    state: State, sub: JSONDict, changes: dict[str, JSONDict], invoice_id: str
) -> JSONDict:
    items = sub["items"]["data"]
    start = min(int(i["current_period_start"]) for i in items)
    end = min(int(i["current_period_end"]) for i in items)
    interval, count = periods.recurring_of(sub)
    next_end = periods.next_period_end(int(sub["billing_cycle_anchor"]), interval, count, end)
    lines = []
    for item in items:
        price = changes.get(item["id"], item["price"])
        future = {**item, "price": price}
        if metered_billing.is_metered(price):
            if item["id"] not in changes:  # a changed one counts from the change: nothing yet
                usage = metered_billing.line(state, invoice_id, sub, future, start, state.now())
                usage["period"]["end"] = end
                lines.append(usage)
            continue
        name = state.data.products[price["product"]]["name"]
        amount = int(price["unit_amount"]) * int(item["quantity"])
        text = f"{item['quantity']} × {name}"  # noqa: RUF001 - Stripe's wording
        lines.append(
            objects.invoice_line(invoice_id, sub["id"], future, amount, text, end, next_end)
        )
    customer = state.data.customers[sub["customer"]]
    invoice = objects.invoice(
        invoice_id, customer, sub, "subscription_cycle", lines, start, end, end
    )
    invoice["next_payment_attempt"] = end
    return invoice
