"""Subscription schedules: create from a subscription, update phases, release, retrieve
(``schedules.py`` holds what they do and the Stripe pages it follows)."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    SubscriptionScheduleCreateParams,
    SubscriptionScheduleReleaseParams,
    SubscriptionScheduleRetrieveParams,
    SubscriptionScheduleUpdateParams,
)

from devstack.stripe_standin import schedules
from devstack.stripe_standin.api_errors import parameter_missing
from devstack.stripe_standin.resources.common import get_or_404, get_param_object
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

# Only a schedule made from an existing subscription (a plan change at its period end).
_CREATE = Supports("from_subscription")
_UPDATE = Supports(
    "end_behavior=release",
    "metadata",
    "phases[].items[].price",
    "phases[].items[].quantity",
    "phases[].start_date",
    "phases[].end_date",
    "phases[].duration.interval",
    "phases[].duration.interval_count",
    "phases[].discounts[].discount",
    # At a period end there is nothing to prorate; both values are accepted as Stripe does.
    "phases[].proration_behavior=none|create_prorations",
)


def create(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    if "from_subscription" not in params:
        raise parameter_missing("from_subscription")
    sub = get_param_object(
        ctx.state, "subscriptions", "subscription", params["from_subscription"],
        "from_subscription",
    )  # fmt: skip
    schedule = schedules.create_from_subscription(ctx.state, sub, ctx.origin)
    return ctx.render(schedule, params)


def _schedule(ctx: ApiContext, path: dict[str, str]) -> JSONDict:
    return get_or_404(
        ctx.state, "subscription_schedules", "subscription_schedule", path["schedule"]
    )


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(_schedule(ctx, path), params)


def update(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    schedule = schedules.update(ctx.state, _schedule(ctx, path), params, ctx.origin)
    return ctx.render(schedule, params)


def release(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    schedule = schedules.release(ctx.state, _schedule(ctx, path), ctx.origin)
    return ctx.render(schedule, params)


ROUTES = [
    route(
        "POST", "/v1/subscription_schedules", create, SubscriptionScheduleCreateParams, _CREATE
    ),
    route(
        "GET", "/v1/subscription_schedules/{schedule}", retrieve,
        SubscriptionScheduleRetrieveParams, Supports(),
    ),
    route(
        "POST", "/v1/subscription_schedules/{schedule}", update,
        SubscriptionScheduleUpdateParams, _UPDATE,
    ),
    route(
        "POST", "/v1/subscription_schedules/{schedule}/release", release,
        SubscriptionScheduleReleaseParams, Supports(),
    ),
]  # fmt: skip
