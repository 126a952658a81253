"""Subscription schedules (devstack/stripe_standin/schedules.py): a plan change at period end.

The shapes of the schedule and its events are checked with every other object in
test_shapes.py; here, what they do: made from a subscription, phases set, applied by the
clock at the renewal (which bills the new plan), released, and what a scheduled subscription
refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from billing.operations._schedules import release, schedule_change
from devstack.stripe_standin import StandinConfig
from tests.standin.conftest import StandinServer, active_subscription, serving
from tests.support.stack import PATIENCE_S

BASIC, PRO = "price_basic_monthly", "price_pro_monthly"
BASIC_CALLS, PRO_CALLS = "price_basic_api_calls_monthly", "price_pro_api_calls_monthly"
HOUR = 3600


def _downgrade(
    client: stripe.StripeClient, sub: stripe.Subscription, new: list[str]
) -> stripe.SubscriptionSchedule:
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    phase = schedule.phases[0]
    return client.v1.subscription_schedules.update(
        schedule.id,
        {  # type: ignore[arg-type]
            "end_behavior": "release",
            "phases": [
                {
                    "start_date": phase.start_date,
                    "end_date": phase.end_date,
                    "items": [
                        {"price": i.price, **({"quantity": i.quantity} if "quantity" in i else {})}
                        for i in phase.items
                    ],
                },
                {
                    "items": [
                        {"price": p, **({} if "calls" in p else {"quantity": 1})} for p in new
                    ],
                    "duration": {"interval": "month"},
                    "proration_behavior": "none",
                },
            ],
        },
    )


@pytest.fixture(scope="module")
def standin_server() -> Iterator[StandinServer]:
    """A stand-in of its own: its clock advances renew only this module's subscriptions."""
    with serving(StandinConfig(), "standin-schedules") as server:
        yield server


def _events(server: StandinServer, since: int, *types: str) -> list[dict[str, Any]]:
    """Every event of ``types`` since ``since``, oldest first (every page)."""
    found: list[dict[str, Any]] = []
    after: dict[str, str] = {}
    while True:
        page = requests.get(
            f"{server.url}/v1/events",
            params={"limit": "100", "created[gte]": str(since), **after},
            headers={"Authorization": "Bearer sk_test_x"},
            timeout=PATIENCE_S,
        ).json()
        found += page["data"]
        if not page["has_more"]:
            return [e for e in reversed(found) if e["type"] in types]
        after = {"starting_after": page["data"][-1]["id"]}


def test_a_schedule_from_a_subscription_is_its_current_period_and_marks_the_subscription(
    client: stripe.StripeClient, email: str
) -> None:
    sub = active_subscription(client, email, PRO)
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    item = sub.items.data[0]
    assert (schedule.status, schedule.subscription, schedule.end_behavior) == (
        "active", sub.id, "release",
    )  # fmt: skip
    assert schedule.current_phase is not None
    assert (schedule.current_phase.start_date, schedule.current_phase.end_date) == (
        item.current_period_start, item.current_period_end,
    )  # fmt: skip
    assert [(i.price, i.quantity) for i in schedule.phases[0].items] == [(PRO, 1)]
    assert client.v1.subscriptions.retrieve(sub.id).schedule == schedule.id
    with pytest.raises(stripe.InvalidRequestError, match="already attached to a schedule"):
        client.v1.subscription_schedules.create({"from_subscription": sub.id})


def test_the_next_phase_starts_at_the_renewal_which_bills_its_plan_then_the_schedule_releases(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = active_subscription(client, email, PRO, PRO_CALLS)
    started = int(standin_server.control("GET", "/_standin/clock")["now"])
    schedule = _downgrade(client, sub, [BASIC, BASIC_CALLS])
    assert [[i.price for i in p.items] for p in schedule.phases] == [
        [PRO, PRO_CALLS], [BASIC, BASIC_CALLS],
    ]  # fmt: skip
    end = sub.items.data[0].current_period_end
    assert schedule.phases[1].start_date == end
    # 10,500 API calls on Pro: the renewal bills the ended period's usage at Pro's metered
    # price (10,000 free, then 1 cent: 500), the price it was used under, with Basic in advance.
    client.v1.billing.meter_events.create(
        {
            "event_name": "api_calls",
            "identifier": f"calls-{sub.id}",
            "payload": {"stripe_customer_id": str(sub.customer), "value": "10500"},
        }
    )
    # Nothing changes before the period ends: no invoice, still Pro.
    now = int(standin_server.control("GET", "/_standin/clock")["now"])
    standin_server.advance(end - now - 60)
    still = client.v1.subscriptions.retrieve(sub.id)
    assert sorted(i.price.id for i in still.items.data) == sorted([PRO, PRO_CALLS])
    assert still.latest_invoice == sub.latest_invoice
    # The renewal is the phase change: it bills Basic, and the draft is charged an hour later.
    standin_server.advance(60 + HOUR + 60)
    renewed = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sorted(i.price.id for i in renewed.items.data) == sorted([BASIC, BASIC_CALLS])
    invoice = renewed.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == (
        "subscription_cycle", "paid", 999 + 500,
    )  # fmt: skip
    assert renewed.schedule == schedule.id  # its last phase is running
    during = client.v1.subscription_schedules.retrieve(schedule.id)
    assert during.current_phase is not None
    assert during.current_phase.start_date == end
    # The last phase ends at the next renewal: the schedule releases the subscription.
    next_end = renewed.items.data[0].current_period_end
    standin_server.advance(next_end - end + 60)
    released = client.v1.subscription_schedules.retrieve(schedule.id)
    assert (released.status, released.released_subscription, released.subscription) == (
        "released", sub.id, None,
    )  # fmt: skip
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.schedule is None
    assert after.items.data[0].price.id == BASIC
    types = [
        e["type"]
        for e in _events(standin_server, started, *_SCHEDULE_EVENTS)
        if e["data"]["object"]["id"] == schedule.id
    ]
    assert types == [
        "subscription_schedule.created",
        "subscription_schedule.updated",  # the phases set
        "subscription_schedule.updated",  # the next phase began
        "subscription_schedule.released",
    ]


_SCHEDULE_EVENTS = (
    "subscription_schedule.created",
    "subscription_schedule.updated",
    "subscription_schedule.released",
)


def test_a_released_schedule_leaves_the_plan_as_it_is_and_cannot_be_released_again(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    sub = active_subscription(client, email, PRO)
    schedule = _downgrade(client, sub, [BASIC])
    released = client.v1.subscription_schedules.release(schedule.id)
    assert (released.status, released.released_subscription) == ("released", sub.id)
    assert client.v1.subscriptions.retrieve(sub.id).schedule is None
    with pytest.raises(stripe.InvalidRequestError, match="`released` status"):
        client.v1.subscription_schedules.release(schedule.id)
    with pytest.raises(stripe.InvalidRequestError, match="`released` status"):
        client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "release"})
    now = int(standin_server.control("GET", "/_standin/clock")["now"])
    standin_server.advance(sub.items.data[0].current_period_end - now + HOUR + 60)
    assert client.v1.subscriptions.retrieve(sub.id).items.data[0].price.id == PRO


def test_a_scheduled_subscription_refuses_a_direct_change_of_its_cancellation(
    client: stripe.StripeClient, email: str
) -> None:
    sub = active_subscription(client, email, PRO)
    schedule = _downgrade(client, sub, [BASIC])
    with pytest.raises(stripe.InvalidRequestError, match="managed by the subscription schedule"):
        client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    client.v1.subscription_schedules.release(schedule.id)
    assert client.v1.subscriptions.update(
        sub.id, {"cancel_at_period_end": True}
    ).cancel_at_period_end


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"end_behavior": "cancel"}, "end_behavior"),
        ({"phases": [{"items": [{"price": PRO}], "trial_end": 1}]}, "phases[0][trial_end]"),
        ({"default_settings": {"description": "x"}}, "default_settings"),
    ],
)
def test_what_the_standin_does_not_implement_is_refused_by_name(
    client: stripe.StripeClient, email: str, change: dict[str, Any], param: str
) -> None:
    sub = active_subscription(client, email, PRO)
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscription_schedules.update(schedule.id, change)  # type: ignore[arg-type]
    assert refused.value.code == "parameter_unsupported_by_standin"
    assert refused.value.param == param


def test_the_current_phase_keeps_its_start_and_ends_at_the_period_end(
    client: stripe.StripeClient, email: str
) -> None:
    sub = active_subscription(client, email, PRO)
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    phase = schedule.phases[0]
    with pytest.raises(stripe.InvalidRequestError, match="start date of the current phase"):
        client.v1.subscription_schedules.update(
            schedule.id,
            {"phases": [{"start_date": phase.start_date + 1, "end_date": phase.end_date,
                         "items": [{"price": PRO, "quantity": 1}]}]},
        )  # fmt: skip
    with pytest.raises(stripe.InvalidRequestError) as mid_period:
        client.v1.subscription_schedules.update(
            schedule.id,
            {"phases": [
                {"start_date": phase.start_date, "end_date": phase.end_date - 86_400,
                 "items": [{"price": PRO, "quantity": 1}]},
                {"items": [{"price": BASIC, "quantity": 1}], "duration": {"interval": "month"}},
            ]},
        )  # fmt: skip
    assert mid_period.value.code == "parameter_unsupported_by_standin"


def test_a_phase_gets_only_the_discounts_listed_on_it_and_the_product_lists_the_lasting_code(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    """An update replaces the phases whole: a discount not re-listed on the new plan's phase ends
    at its start (schedules.py cites where), so a downgrade made without it would bill the
    customer's lasting 10 % code away. The product's schedule_change lists it on both phases."""
    team10 = {"discounts": [{"promotion_code": "promo_team10"}]}
    sub = active_subscription(client, email, PRO, **team10)
    (discount,) = sub.discounts
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    assert [d.discount for d in schedule.phases[0].discounts] == [discount]
    phase = schedule.phases[0]
    with pytest.raises(stripe.InvalidRequestError) as dropped_now:
        client.v1.subscription_schedules.update(
            schedule.id,
            {"phases": [{"start_date": phase.start_date, "end_date": phase.end_date,
                         "items": [{"price": PRO, "quantity": 1}]}]},
        )  # fmt: skip
    assert (dropped_now.value.code, dropped_now.value.param) == (
        "parameter_unsupported_by_standin", "phases[0][discounts]",
    )  # fmt: skip
    # Not re-listed on the next phase: Basic is billed in full and the code is gone.
    client.v1.subscription_schedules.update(
        schedule.id,
        {"phases": [  # type: ignore[arg-type]
            {"start_date": phase.start_date, "end_date": phase.end_date,
             "items": [{"price": PRO, "quantity": 1}], "discounts": [{"discount": discount}]},
            {"items": [{"price": BASIC, "quantity": 1}], "duration": {"interval": "month"}},
        ]},
    )  # fmt: skip
    # The product's own call, on a second customer with the same code.
    other = active_subscription(client, f"2{email}", PRO, **team10)
    scheduled = schedule_change(client, other, [BASIC])
    assert [[d.discount for d in p.discounts] for p in scheduled.phases] == [
        list(other.discounts), list(other.discounts),
    ]  # fmt: skip
    now = int(standin_server.control("GET", "/_standin/clock")["now"])
    standin_server.advance(sub.items.data[0].current_period_end - now + HOUR + 60)
    lost = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    kept = client.v1.subscriptions.retrieve(other.id, {"expand": ["latest_invoice"]})
    for renewed in (lost, kept):
        assert renewed.items.data[0].price.id == BASIC
        assert isinstance(renewed.latest_invoice, stripe.Invoice)
        assert renewed.latest_invoice.billing_reason == "subscription_cycle"
    assert isinstance(lost.latest_invoice, stripe.Invoice)
    assert isinstance(kept.latest_invoice, stripe.Invoice)
    assert (lost.discounts, lost.latest_invoice.amount_paid) == ([], 999)
    assert kept.discounts == other.discounts
    assert kept.latest_invoice.amount_paid == 999 - 100  # 10 % of 9.99, rounded


def _read(client: stripe.StripeClient, sub_id: str) -> stripe.Subscription:
    """The subscription as change-plan reads it (its schedule expanded)."""
    return client.v1.subscriptions.retrieve(sub_id, {"expand": ["schedule"]})


def test_the_product_releases_a_schedule_that_ended_since_it_read_the_subscription(
    client: stripe.StripeClient, email: str
) -> None:
    """Keep in one tab (or a release in the Dashboard) between another request's read and its
    release: Stripe refuses releasing a released schedule; the product takes it as done."""
    sub = active_subscription(client, email, PRO)
    schedule = schedule_change(client, sub, [BASIC])
    stale = _read(client, sub.id)
    client.v1.subscription_schedules.release(schedule.id)
    release(client, stale)  # no error: what was asked is done
    assert _read(client, sub.id).schedule is None


def test_the_product_downgrades_again_when_the_schedule_it_read_has_ended_or_was_made_since(
    client: stripe.StripeClient, email: str
) -> None:
    sub = active_subscription(client, email, PRO)
    # Read with a schedule that was released since: a new one is made, no crash.
    first = schedule_change(client, sub, [BASIC])
    stale = _read(client, sub.id)
    client.v1.subscription_schedules.release(first.id)
    second = schedule_change(client, stale, [BASIC])
    assert second.id != first.id
    assert _read(client, sub.id).schedule is not None
    # Two tabs: both read the subscription without a schedule, the first makes one; the
    # second uses it (Stripe refuses a second schedule for one subscription).
    client.v1.subscription_schedules.release(second.id)
    tab_a, tab_b = _read(client, sub.id), _read(client, sub.id)
    made = schedule_change(client, tab_a, [BASIC])
    again = schedule_change(client, tab_b, [BASIC])
    assert again.id == made.id
    assert [[i.price for i in p.items] for p in again.phases] == [[PRO], [BASIC]]
    assert _read(client, sub.id).schedule is not None
