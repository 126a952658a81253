"""Subscription schedules: a subscription's future plan changes, applied by Stripe's clock.

Only what the product uses (a downgrade at period end) is implemented:

- ``POST /v1/subscription_schedules`` with ``from_subscription``: a schedule of one phase, the
  subscription as it is until its current period ends ("Creates a new subscription schedule
  object"; a subscription migrated to a schedule gets ``schedule`` set:
  https://docs.stripe.com/api/subscription_schedules/create). A subscription already on a
  schedule is refused.
- ``POST /v1/subscription_schedules/{id}`` with ``phases`` and ``end_behavior=release``: the
  current phase kept as it is (its start date cannot move), phases after it starting where
  the one before ends; "If there are multiple phases, the end_date of one phase will always
  equal the start_date of the next phase. Note that past phases can be omitted"
  (stripe.params.SubscriptionScheduleUpdateParams). The stand-in implements phase boundaries
  at the subscription's period ends only, and a last phase with an ``end_date`` or a
  ``duration``.
- ``POST /v1/subscription_schedules/{id}/release``: "Releases the subscription schedule
  immediately, which will stop scheduling of its phases, but leave any existing subscription
  in place. A schedule can only be released if its status is not_started or active. If the
  subscription schedule is currently associated with a subscription, releasing it will remove
  its subscription property and set the subscription's ID to the released_subscription
  property" (https://docs.stripe.com/api/subscription_schedules/release).
- The clock: "When a phase starts, Stripe updates the subscription based on the next phase's
  attributes" and "A subscription schedule is completed after the last phase is finished. When
  this happens, the subscription is released from the schedule"
  (https://docs.stripe.com/billing/subscriptions/subscription-schedules, quoted in
  https://zenn.dev/yumainaura/articles/qiita-2020-01-02t20_14_19-09_00-); with
  ``end_behavior=release`` the schedule then reads ``released`` ("A SubscriptionSchedule is
  'released' when it ended but left the underlying Subscription to continue as is", Stripe's
  koopajah: https://codewithsundeep.com/discussion/solution/77572917).

Events, as Stripe's event types name them: ``subscription_schedule.created``, ``.updated``
("Occurs whenever a subscription schedule is updated"), ``.released``, and
``customer.subscription.updated`` whenever the subscription itself changes (its ``schedule``
set or cleared, its items at a phase change). ``.aborted`` ("canceled due to the underlying
subscription being canceled because of delinquency") when dunning cancels the subscription.

Discounts: a phase carries the discounts it applies (``phases[].discounts``; the stand-in
implements naming the subscription's own discounts by id, ``{"discount": "di_..."}``, which keeps
a repeating coupon's remaining duration). A schedule made from a subscription lists the
subscription's discounts on its first phase; a phase that starts applies its own list, so a
discount not re-listed on a later phase ends there: updating a schedule replaces its phases
whole, and "any discount not re-listed on the rebuilt phases was silently lost"
(https://github.com/bitwarden/server/pull/8278; the same bug and fix in
https://github.com/useautumn/autumn/pull/742: "Stripe subscription discounts (coupons) were being
lost during scheduled subscription switches ... did not set the discounts parameter on
subscription schedule phases"). Changing the current phase's discounts (Stripe applies them to
the subscription at once) is not implemented and refused by name.

A subscription on a schedule refuses a direct change of its cancellation: "The subscription is
managed by the subscription schedule `sub_sched_...`, and updating any cancelation behavior
directly is not allowed. Please update the schedule instead." (Stripe's answer quoted in
https://github.com/laravel/cashier-stripe/issues/1748 and dust-tt/dust#32051).
"""

from __future__ import annotations

from typing import Any

from devstack.stripe_standin import ids, metered_billing, objects
from devstack.stripe_standin.api_errors import StripeAPIError, invalid_request
from devstack.stripe_standin.periods import next_period_end
from devstack.stripe_standin.state import JSONDict, Origin, State, check_item_price, snapshot

_LIVE = ("not_started", "active")


def _unimplemented(what: str, param: str) -> StripeAPIError:
    return invalid_request(
        f"The Stripe stand-in does not implement {what} on subscription schedules: a test "
        "relying on it could pass here and fail against Stripe. Implement it in "
        "devstack/stripe_standin/schedules.py before using it.",
        param=param,
        code="parameter_unsupported_by_standin",
    )


def managed_cancel_refusal(schedule_id: str) -> StripeAPIError:
    return invalid_request(
        f"The subscription is managed by the subscription schedule `{schedule_id}`, and "
        "updating any cancelation behavior directly is not allowed. Please update the "
        "schedule instead."
    )


def _period(sub: JSONDict) -> tuple[int, int]:
    items = sub["items"]["data"]
    return (
        min(int(i["current_period_start"]) for i in items),
        min(int(i["current_period_end"]) for i in items),
    )


def _phase_item(price: JSONDict, quantity: int | None) -> JSONDict:
    item: JSONDict = {
        "billing_thresholds": None,
        "discounts": [],
        "metadata": {},
        "plan": price["id"],
        "price": price["id"],
    }
    if quantity is not None:  # a metered price has none (omitted, as Stripe omits it)
        item["quantity"] = quantity
    return item


def _phase(
    currency: str,
    items: list[JSONDict],
    start: int,
    end: int,
    proration: str,
    discounts: list[str],
) -> JSONDict:
    return {
        "add_invoice_items": [],
        "application_fee_percent": None,
        "billing_cycle_anchor": None,
        "billing_thresholds": None,
        "collection_method": None,
        "currency": currency,
        "default_payment_method": None,
        "description": None,
        "discounts": [{"coupon": None, "discount": di, "promotion_code": None} for di in discounts],
        "end_date": end,
        "invoice_settings": None,
        "items": items,
        "metadata": {},
        "on_behalf_of": None,
        "proration_behavior": proration,
        "start_date": start,
        "transfer_data": None,
        "trial_end": None,
    }


def _schedule(schedule_id: str, sub: JSONDict, phase: JSONDict, now: int) -> JSONDict:
    return {
        "id": schedule_id,
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": snapshot(sub["billing_mode"]),
        "canceled_at": None,
        "completed_at": None,
        "created": now,
        "current_phase": {"end_date": phase["end_date"], "start_date": phase["start_date"]},
        "customer": sub["customer"],
        "customer_account": None,
        "default_settings": {
            "application_fee_percent": None,
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": sub["default_payment_method"],
            "description": None,
            "invoice_settings": {
                "account_tax_ids": None,
                "custom_fields": None,
                "days_until_due": None,
                "description": None,
                "footer": None,
                "issuer": {"type": "self"},
            },
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "end_behavior": "release",
        "livemode": False,
        "metadata": {},
        "pause_schedules": [],
        "phases": [phase],
        "released_at": None,
        "released_subscription": None,
        "status": "active",
        "subscription": sub["id"],
        "test_clock": sub["test_clock"],
    }


def create_from_subscription(state: State, sub: JSONDict, origin: Origin) -> JSONDict:
    if sub["schedule"] is not None:
        raise invalid_request(
            "You cannot migrate a subscription that is already attached to a schedule: "
            f"`{sub['schedule']}`.",
            param="from_subscription",
        )
    if sub["status"] not in ("active", "past_due", "trialing", "unpaid"):
        raise invalid_request(
            f"You cannot migrate a subscription whose status is `{sub['status']}` to a "
            "subscription schedule.",
            param="from_subscription",
        )
    if sub["cancel_at_period_end"] or sub.get("cancel_at") is not None:
        # Stripe makes the schedule carry the cancellation (its phases set cancel_at; a
        # release clears it: YumaInaura/YumaInaura#2955); not modelled here.
        raise _unimplemented(
            "a schedule from a subscription set to cancel (cancel_at, cancel_at_period_end)",
            "from_subscription",
        )
    now = state.now()
    start, end = _period(sub)
    items = [
        _phase_item(
            item["price"],
            None if metered_billing.is_metered(item["price"]) else int(item["quantity"]),
        )
        for item in sub["items"]["data"]
    ]
    phase = _phase(sub["currency"], items, start, end, "create_prorations", list(sub["discounts"]))
    schedule = _schedule(ids.new_id("sub_sched"), sub, phase, now)
    state.data.subscription_schedules[schedule["id"]] = schedule
    state.emit("subscription_schedule.created", schedule, origin)
    before = snapshot(sub)
    sub["schedule"] = schedule["id"]
    state.emit_update("customer.subscription.updated", sub, before, origin)
    return schedule


def _require_live(schedule: JSONDict, verb: str) -> None:
    if schedule["status"] not in _LIVE:
        raise invalid_request(
            f"You cannot {verb} a subscription schedule that is currently in the "
            f"`{schedule['status']}` status. It must be in `not_started`, `active` status to "
            f"be {verb}d."
        )


def _phase_items(state: State, sub: JSONDict, entries: Any, where: str) -> list[JSONDict]:
    """A phase's items: each a price of the subscription's currency and interval; one per
    licensed item and one per meter the subscription bills (the stand-in implements swapping
    prices at a phase change, not adding or removing items)."""
    if not isinstance(entries, list) or not entries:
        raise invalid_request("Missing required param: items.", param=f"{where}[items]")
    items: list[JSONDict] = []
    shape: list[tuple[str, str | None]] = []
    for index, entry in enumerate(entries):
        param = f"{where}[items][{index}]"
        extra = sorted(set(entry) - {"price", "quantity"})
        if extra:
            raise _unimplemented(f"{param}[{extra[0]}]", f"{param}[{extra[0]}]")
        if "price" not in entry:
            raise invalid_request(
                f"Missing required param: {param}[price].", param=f"{param}[price]"
            )
        price = state.data.prices.get(entry["price"])
        if price is None:
            raise invalid_request(f"No such price: '{entry['price']}'", param=f"{param}[price]")
        check_item_price(sub, price, f"{param}[price]")
        metered = metered_billing.is_metered(price)
        if metered and "quantity" in entry:
            raise invalid_request(
                "Quantity should not be specified where usage_type is `metered`. "
                f"Remove quantity from `{param}`.",
                param=f"{param}[quantity]",
            )
        quantity = None if metered else int(entry.get("quantity", 1))
        items.append(_phase_item(price, quantity))
        kind = ("metered", price["recurring"].get("meter")) if metered else ("licensed", None)
        shape.append(kind)
    current = sorted(
        ("metered", i["price"]["recurring"].get("meter"))
        if metered_billing.is_metered(i["price"])
        else ("licensed", None)
        for i in sub["items"]["data"]
    )
    if sorted(shape) != current:
        raise _unimplemented(
            "phases that add or remove subscription items (each phase must have the "
            "subscription's licensed items and one price per meter it bills)",
            f"{where}[items]",
        )
    intervals = {
        (state.data.prices[i["price"]]["recurring"]["interval"],
         int(state.data.prices[i["price"]]["recurring"]["interval_count"]))
        for i in items
    }  # fmt: skip
    if len(intervals) != 1:
        raise invalid_request(
            "Currently all items on a subscription must have the same billing interval.",
            param=f"{where}[items]",
        )
    return items


def _same_items(a: list[JSONDict], b: list[JSONDict]) -> bool:
    def key(items: list[JSONDict]) -> list[tuple[str, Any]]:
        return sorted((i["price"], i.get("quantity")) for i in items)

    return key(a) == key(b)


def update(state: State, schedule: JSONDict, params: JSONDict, origin: Origin) -> JSONDict:
    _require_live(schedule, "update")
    sub = state.data.subscriptions[schedule["subscription"]]
    before = snapshot(schedule)
    if "end_behavior" in params:
        schedule["end_behavior"] = params["end_behavior"]
    if "metadata" in params:
        schedule["metadata"] = {**schedule["metadata"], **params["metadata"]}
        schedule["metadata"] = {k: v for k, v in schedule["metadata"].items() if v != ""}
    if "phases" in params:
        schedule["phases"] = _phases(state, schedule, sub, params["phases"])
    state.emit_update("subscription_schedule.updated", schedule, before, origin)
    return schedule


def _phases(
    state: State, schedule: JSONDict, sub: JSONDict, entries: list[JSONDict]
) -> list[JSONDict]:
    now = state.now()
    current = schedule["current_phase"]
    # The phase running now (past phases stay listed until an update omits them).
    running = next(p for p in schedule["phases"] if p["start_date"] == current["start_date"])
    _, period_end = _period(sub)
    phases: list[JSONDict] = []
    for index, entry in enumerate(entries):
        where = f"phases[{index}]"
        start = entry.get("start_date")
        if index == 0:
            if start is None or int(start) != int(current["start_date"]):
                raise invalid_request(
                    "You can not modify the start date of the current phase.",
                    param=f"{where}[start_date]",
                )
            start = int(start)
        else:
            previous_end = phases[-1]["end_date"]
            if start is not None and int(start) != previous_end:
                raise invalid_request(
                    "The start_date of a phase must equal the end_date of the phase before it.",
                    param=f"{where}[start_date]",
                )
            start = previous_end
        items = _phase_items(state, sub, entry.get("items"), where)
        if index == 0 and not _same_items(items, running["items"]):
            raise _unimplemented(
                "changing the current phase's items (a change before the period ends)",
                f"{where}[items]",
            )
        if "end_date" in entry and "duration" in entry:
            raise invalid_request(
                "You may only specify one of these parameters: duration, end_date.",
                param=f"{where}[end_date]",
            )
        if "end_date" in entry:
            end = int(entry["end_date"])
        elif "duration" in entry:
            duration = entry["duration"]
            end = next_period_end(
                start, duration["interval"], int(duration.get("interval_count", 1)), start
            )
        else:
            raise _unimplemented(
                "a phase without end_date or duration (Stripe's default length)",
                f"{where}[end_date]",
            )
        if end <= start or end <= now:
            raise invalid_request(
                "The end_date of a phase must be after its start_date and in the future.",
                param=f"{where}[end_date]",
            )
        if index == 0 and end != period_end:
            raise _unimplemented(
                "a phase change before the current period ends (prorated mid-period)",
                f"{where}[end_date]",
            )
        price_of_phase = state.data.prices[items[0]["price"]]
        if index > 0 and _interval(price_of_phase) != _interval(_licensed_price(sub)):
            raise _unimplemented("a phase that changes the billing interval", f"{where}[items]")
        proration = entry.get("proration_behavior", "create_prorations")
        discounts = _phase_discounts(sub, entry.get("discounts"), where)
        if index == 0 and discounts != _discount_ids(running):
            raise _unimplemented(
                "changing the current phase's discounts (Stripe applies them to the "
                "subscription at once; list the phase's discounts as the schedule has them)",
                f"{where}[discounts]",
            )
        phases.append(_phase(sub["currency"], items, start, end, proration, discounts))
    return phases


def _discount_ids(phase: JSONDict) -> list[str]:
    return sorted(str(d["discount"]) for d in phase["discounts"] if d.get("discount"))


def _phase_discounts(sub: JSONDict, entries: Any, where: str) -> list[str]:
    """A phase's discounts: the subscription's own, by id (see the module)."""
    if entries in (None, ""):
        return []
    ids: list[str] = []
    for index, entry in enumerate(entries):
        param = f"{where}[discounts][{index}]"
        if set(entry) != {"discount"} or entry["discount"] not in sub["discounts"]:
            raise _unimplemented(
                f"{param} other than one of the subscription's discounts by id",
                param,
            )
        ids.append(str(entry["discount"]))
    return sorted(ids)


def _interval(price: JSONDict) -> tuple[str, int]:
    return str(price["recurring"]["interval"]), int(price["recurring"]["interval_count"])


def _licensed_price(sub: JSONDict) -> JSONDict:
    for item in sub["items"]["data"]:
        if not metered_billing.is_metered(item["price"]):
            return item["price"]  # type: ignore[no-any-return]
    return sub["items"]["data"][0]["price"]  # type: ignore[no-any-return]


def release(state: State, schedule: JSONDict, origin: Origin) -> JSONDict:
    _require_live(schedule, "release")
    _end(state, schedule, origin)
    return schedule


def _end(state: State, schedule: JSONDict, origin: Origin) -> None:
    now = state.now()
    before = snapshot(schedule)
    sub_id = schedule["subscription"]
    schedule.update(
        status="released",
        released_at=now,
        released_subscription=sub_id,
        subscription=None,
        current_phase=None,
    )
    state.emit_update("subscription_schedule.released", schedule, before, origin)
    sub = state.data.subscriptions.get(sub_id or "")
    if sub is not None and sub["schedule"] == schedule["id"]:
        sub_before = snapshot(sub)
        sub["schedule"] = None
        state.emit_update("customer.subscription.updated", sub, sub_before, origin)


def schedule_of(state: State, sub: JSONDict) -> JSONDict | None:
    schedule_id = sub["schedule"]
    return state.data.subscription_schedules.get(schedule_id) if schedule_id else None


def _next_phase(schedule: JSONDict, boundary: int) -> JSONDict | None:
    for phase in schedule["phases"]:
        if int(phase["start_date"]) == boundary:
            return phase  # type: ignore[no-any-return]
    return None


def enter_licensed(state: State, sub: JSONDict, boundary: int) -> None:
    """At a renewal that is a phase boundary: the licensed items take the next phase's prices
    before the renewal invoice is made, so it bills the new plan in advance. (Metered items
    change after it: the ended period's usage is billed at the price it was used under.)"""
    schedule = schedule_of(state, sub)
    if schedule is None or schedule["status"] != "active":
        return
    phase = _next_phase(schedule, boundary)
    if phase is None:
        return
    _swap(state, sub, phase, metered=False, at=boundary)
    # The phase's discounts are what its invoices get: one not re-listed ends here.
    listed = set(_discount_ids(phase))
    sub["discounts"] = [di for di in sub["discounts"] if di in listed]


def after_renewal(state: State, sub: JSONDict, boundary: int, origin: Origin) -> None:
    """After the renewal invoice: metered items take the phase's prices, the schedule moves
    to its next phase (``subscription_schedule.updated``), or, past its last phase, is
    released (``end_behavior=release``)."""
    schedule = schedule_of(state, sub)
    if schedule is None or schedule["status"] != "active":
        return
    current = schedule["current_phase"]
    if current is None or int(current["end_date"]) != boundary:
        return
    phase = _next_phase(schedule, boundary)
    if phase is None:
        _end(state, schedule, origin)
        return
    sub_before = snapshot(sub)
    _swap(state, sub, phase, metered=True, at=boundary)
    state.emit_update("customer.subscription.updated", sub, sub_before, origin)
    before = snapshot(schedule)
    schedule["current_phase"] = {"end_date": phase["end_date"], "start_date": phase["start_date"]}
    state.emit_update("subscription_schedule.updated", schedule, before, origin)


def _swap(state: State, sub: JSONDict, phase: JSONDict, *, metered: bool, at: int) -> None:
    prices = state.data.prices
    licensed = [i for i in phase["items"] if not metered_billing.is_metered(prices[i["price"]])]
    by_meter = {
        state.data.prices[i["price"]]["recurring"].get("meter"): i
        for i in phase["items"]
        if metered_billing.is_metered(state.data.prices[i["price"]])
    }
    licensed_left = list(licensed)
    for item in sub["items"]["data"]:
        is_metered = metered_billing.is_metered(item["price"])
        if is_metered != metered:
            continue
        target = (
            by_meter.get(item["price"]["recurring"].get("meter"))
            if is_metered
            else (licensed_left.pop(0) if licensed_left else None)
        )
        if target is None or target["price"] == item["price"]["id"]:
            continue
        price = snapshot(state.data.prices[target["price"]])
        item.update({"price": price, "plan": objects.plan_from_price(price)})
        if is_metered:
            state.data.metered_since[item["id"]] = at  # its usage counts from the phase start
        elif "quantity" in target:
            item["quantity"] = int(target["quantity"])


def abort_for(state: State, sub: JSONDict, origin: Origin) -> None:
    """The subscription ended (canceled by dunning): its schedule is canceled with it."""
    schedule = schedule_of(state, sub)
    if schedule is None or schedule["status"] not in _LIVE:
        return
    before = snapshot(schedule)
    schedule.update(status="canceled", canceled_at=state.now(), current_phase=None)
    state.emit_update("subscription_schedule.aborted", schedule, before, origin)
