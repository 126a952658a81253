"""Downgrades at period end (``DOWNGRADE_POLICY=period_end``) with Stripe subscription schedules.

What a downgrade is: a price whose normalized yearly amount (its amount times its periods a
year) is lower than the current plan's, at the same billing interval. An equal amount, an
upgrade and a change of interval (Stripe restarts the period at once for those anyway:
https://docs.stripe.com/billing/subscriptions/upgrade-downgrade) change at once.

How it is scheduled, as Stripe documents a downgrade at period end: a schedule made
``from_subscription`` (its one phase is the subscription as it is, until the period ends:
https://docs.stripe.com/api/subscription_schedules/create), then its phases set to [that phase,
the new plan] with ``end_behavior=release``, so the subscription continues on the new plan
once the schedule ends (https://docs.stripe.com/billing/subscriptions/subscription-schedules;
the steps: https://stackoverflow.com/questions/16820212). The new phase lasts one billing
interval (``duration``); the plan then runs on unscheduled. A second downgrade replaces the
pending phase; an upgrade, re-selecting the current plan and a cancellation release the
schedule first: "Releases the subscription schedule immediately, which will stop scheduling
of its phases, but leave any existing subscription in place"
(https://docs.stripe.com/api/subscription_schedules/release), and Stripe refuses a direct change
of a scheduled subscription's cancellation ("The subscription is managed by the subscription
schedule ..., and updating any cancelation behavior directly is not allowed", quoted in
laravel/cashier-stripe#1748).

Discounts: an update replaces the phases whole, so a phase carries only the discounts listed
on it: "any discount not re-listed on the rebuilt phases was silently lost"
(https://github.com/bitwarden/server/pull/8278, https://github.com/useautumn/autumn/pull/742).
The current phase keeps the discounts the schedule lists on it, and the new plan's phase lists
the subscription's live discounts by id ({"discount": "di_..."}), so a customer's lasting code
carries on to the cheaper plan with its remaining duration, as an immediate change keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import stripe

from billing.config import BillingSettings
from billing.operations._plan_items import is_metered
from billing.stripe_api.raw import Json

if TYPE_CHECKING:
    from stripe.params import SubscriptionScheduleUpdateParams

_LIVE = ("not_started", "active")  # the statuses a schedule can be released or updated in
PERIODS_A_YEAR = {
    "day": Fraction(365),
    "week": Fraction(52),
    "month": Fraction(12),
    "year": Fraction(1),
}


def yearly_amount(unit_amount: int, interval: str, interval_count: int) -> Fraction:
    """The price's amount over a year: ``unit_amount`` times its periods a year."""
    return unit_amount * PERIODS_A_YEAR[interval] / interval_count


def is_downgrade(current: stripe.Price, new: stripe.Price) -> bool:
    """A cheaper plan at the same billing interval and currency (see the module)."""
    a, b = current.recurring, new.recurring
    if a is None or b is None or current.currency != new.currency:
        return False
    if (a.interval, a.interval_count) != (b.interval, b.interval_count):
        return False  # an interval switch: Stripe bills the new interval from the change
    if current.unit_amount is None or new.unit_amount is None:
        return False
    return yearly_amount(new.unit_amount, b.interval, b.interval_count) < yearly_amount(
        current.unit_amount, a.interval, a.interval_count
    )


def at_period_end(settings: BillingSettings, current: stripe.Price, new: stripe.Price) -> bool:
    """The policy decision: does this change wait for the period end?"""
    return settings.downgrade_policy == "period_end" and is_downgrade(current, new)


def attached(sub: stripe.Subscription | Json) -> str | None:
    """The id of the live schedule managing ``sub`` (the SDK's object, or the JSON Stripe sent
    when the caller reads answers raw), if any."""
    schedule = sub.get("schedule") if isinstance(sub, Mapping) else sub.schedule
    if schedule is None or isinstance(schedule, str):
        return schedule
    if isinstance(schedule, Mapping):
        return str(schedule["id"]) if schedule.get("status") in _LIVE else None
    return schedule.id if schedule.status in _LIVE else None


def _live(schedule: stripe.SubscriptionSchedule) -> bool:
    return schedule.status in _LIVE and schedule.current_phase is not None


def release(client: stripe.StripeClient, sub: stripe.Subscription | Json) -> None:
    """Stop scheduling: the subscription stays on its current plan.

    ``sub`` was read a moment ago: the schedule may have ended since (the customer's other
    tab kept the plan, someone released it in the Dashboard, its last phase ended). Stripe
    then refuses the release ("A schedule can only be released if its status is not_started
    or active"); what was asked is done, so that is not an error."""
    schedule_id = attached(sub)
    if schedule_id is None:
        return
    try:
        client.v1.subscription_schedules.release(schedule_id)
    except stripe.InvalidRequestError:
        if client.v1.subscription_schedules.retrieve(schedule_id).status in _LIVE:
            raise


def _phase_items(items: list[tuple[str, int | None]]) -> Any:
    return [{"price": p, **({} if q is None else {"quantity": q})} for p, q in items]


def _discounts(entries: Any) -> list[Any]:
    """Phase discount params naming each discount by id (a coupon or code if that is all):
    ``entries`` are a subscription's discounts (ids or objects) or a phase's."""
    named: list[Any] = []
    for entry in entries or []:
        if isinstance(entry, str):
            named.append({"discount": entry})
        elif getattr(entry, "object", None) == "discount":
            named.append({"discount": entry.id})
        elif (discount := getattr(entry, "discount", None)) is not None:
            named.append({"discount": discount if isinstance(discount, str) else discount.id})
        elif (coupon := getattr(entry, "coupon", None)) is not None:
            named.append({"coupon": coupon if isinstance(coupon, str) else coupon.id})
        elif (code := getattr(entry, "promotion_code", None)) is not None:
            named.append({"promotion_code": code if isinstance(code, str) else code.id})
    return named


def _with_discounts(phase: dict[str, Any], entries: Any) -> dict[str, Any]:
    named = _discounts(entries)
    return {**phase, "discounts": named} if named else phase


def _schedule_of(
    client: stripe.StripeClient, sub: stripe.Subscription
) -> stripe.SubscriptionSchedule:
    """The live schedule managing ``sub``, made from it if it has none.

    ``sub`` was read a moment ago, and the schedule it names may have ended since, or one
    may have been made since (the customer's other tab downgrading at the same moment:
    Stripe refuses a second "You cannot migrate a subscription that is already attached to
    a schedule"). Either way the subscription is read again and its schedule as it is now
    used, so both tabs end with the one schedule and the phases of the last one to write."""
    schedule_id = attached(sub)
    if schedule_id is not None:
        schedule = client.v1.subscription_schedules.retrieve(schedule_id)
        if _live(schedule):
            return schedule
    try:
        return client.v1.subscription_schedules.create({"from_subscription": sub.id})
    except stripe.InvalidRequestError:
        now = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["schedule"]})
        schedule_id = attached(now)
        if schedule_id is None:
            raise
        schedule = client.v1.subscription_schedules.retrieve(schedule_id)
        if not _live(schedule):
            raise
        return schedule


def schedule_change(
    client: stripe.StripeClient, sub: stripe.Subscription, new_items: list[str]
) -> stripe.SubscriptionSchedule:
    """Phases [the plan until the period ends, ``new_items`` from then on, one interval],
    ``end_behavior=release``; a pending phase from an earlier downgrade is replaced."""
    schedule = _schedule_of(client, sub)
    current = schedule.current_phase
    assert current is not None  # _schedule_of answers a live schedule, which always has one
    now_items = [
        (item.price.id, None if is_metered(item) else item.quantity or 1) for item in sub.items.data
    ]
    licensed = next(item for item in sub.items.data if not is_metered(item))
    recurring = licensed.price.recurring
    assert recurring is not None
    running = next((p for p in schedule.phases if p.start_date == current.start_date), None)
    params: SubscriptionScheduleUpdateParams = {
        "end_behavior": "release",
        "phases": [
            _with_discounts(
                {
                    "start_date": current.start_date,
                    "end_date": current.end_date,
                    "items": _phase_items(now_items),
                },
                running.discounts if running is not None else None,
            ),  # type: ignore[list-item]
            _with_discounts(
                {
                    # The plan first (one seat), then its metered prices (no quantity).
                    "items": _phase_items(
                        [(p, 1 if i == 0 else None) for i, p in enumerate(new_items)]
                    ),
                    "duration": {
                        "interval": recurring.interval,
                        "interval_count": recurring.interval_count,
                    },
                    "proration_behavior": "none",
                },
                sub.discounts,
            ),  # type: ignore[list-item]
        ],
    }
    return client.v1.subscription_schedules.update(schedule.id, params)
