"""Events: retrieve and list (every state change records one)."""

from __future__ import annotations

from typing import Any

from stripe.params import EventListParams, EventRetrieveParams

from devstack.stripe_standin import listing
from devstack.stripe_standin.resources.common import LIST_PAGING, get_or_404
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(get_or_404(ctx.state, "events", "event", path["id"]), params)


def _type_matches(pattern: str, event_type: str) -> bool:
    # Stripe accepts a trailing wildcard such as ``invoice.*``.
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def list_events(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    wanted: list[str] = []
    if "type" in params:
        wanted.append(params["type"])
    wanted.extend(params.get("types") or [])

    def matches(event: JSONDict) -> bool:
        if wanted and not any(_type_matches(p, event["type"]) for p in wanted):
            return False
        if "delivery_success" in params:
            delivered = event["pending_webhooks"] == 0
            if delivered != params["delivery_success"]:
                return False
        return listing.created_matches(event, params.get("created"))

    matching = [e for e in listing.newest_first(ctx.state.data.events.values()) if matches(e)]
    return ctx.render(listing.paginate(matching, params, "/v1/events"), params)


# Kept unused by the product's tests for now: the webhook function reads events.
ROUTES = [
    route(
        "GET",
        "/v1/events",
        list_events,
        EventListParams,
        Supports("type", "types", "delivery_success", *LIST_PAGING),
    ),
    route("GET", "/v1/events/{id}", retrieve, EventRetrieveParams, Supports()),
]
