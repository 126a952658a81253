"""Billing meters, meter events and meter event summaries (see ``meters`` for the rules)."""

from __future__ import annotations

from typing import Any

from stripe.params.billing import (
    MeterCreateParams,
    MeterEventCreateParams,
    MeterListEventSummariesParams,
    MeterListParams,
)

from devstack.stripe_standin import ids, listing, meters
from devstack.stripe_standin.api_errors import invalid_request, resource_missing
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]


def _book(ctx: ApiContext) -> meters.MeterBook:
    return ctx.state.data.meters


def create_meter(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    book = _book(ctx)
    if book.active_by_event_name(params["event_name"]) is not None:
        # "You can only use a specific event_name with a single meter" (meters/configure).
        raise invalid_request(
            f"An active meter with event_name {params['event_name']} already exists.",
            param="event_name",
        )
    meter = meters.meter_object(ids.new_id("mtr"), params, ctx.state.clock.now())
    book.meters[meter["id"]] = meter
    return ctx.render(meter, params)


def _meter_or_404(ctx: ApiContext, meter_id: str) -> JSONDict:
    meter = _book(ctx).meters.get(meter_id)
    if meter is None:
        raise resource_missing("billing.meter", meter_id)
    return meter


def list_meters(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    found = list(_book(ctx).meters.values())
    if "status" in params:
        found = [meter for meter in found if meter["status"] == params["status"]]
    return ctx.render(listing.paginate(found, params, "/v1/billing/meters"), params)


def create_meter_event(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    book = _book(ctx)
    now = ctx.state.clock.now()
    meter = book.active_by_event_name(params["event_name"])
    if meter is None:
        raise invalid_request(
            f"No active meter was found with event_name {params['event_name']}.",
            param="event_name",
        )
    payload = dict(params["payload"])
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    customer = payload.get(customer_key)
    if not customer:
        raise invalid_request(
            f"Missing required field {customer_key} in payload.", param=f"payload[{customer_key}]"
        )
    if customer not in ctx.state.data.customers:
        raise resource_missing("customer", customer, param=f"payload[{customer_key}]")
    value = 1
    if meter["default_aggregation"]["formula"] != "count" or value_key in payload:
        if value_key not in payload:
            raise invalid_request(
                f"Missing required field {value_key} in payload.", param=f"payload[{value_key}]"
            )
        value = meters.whole_number(payload[value_key], f"payload[{value_key}]")
    timestamp = int(params.get("timestamp", now))
    meters.check_timestamp(timestamp, now)
    identifier = params.get("identifier") or ids.new_id("mevt")
    if book.seen_recently(identifier, now):
        raise meters.duplicate(identifier)
    book.identifiers[identifier] = now
    book.events.append(meters.MeterEvent(meter["id"], customer, value, timestamp, identifier, now))
    event = {
        "object": "billing.meter_event",
        "created": now,
        "event_name": params["event_name"],
        "identifier": identifier,
        "livemode": False,
        "payload": {key: str(item) for key, item in payload.items()},
        "timestamp": timestamp,
    }
    return ctx.render(event, params)


def list_event_summaries(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    meter = _meter_or_404(ctx, path["id"])
    start, end = int(params["start_time"]), int(params["end_time"])
    for name, value in (("start_time", start), ("end_time", end)):
        if value % 60:
            raise invalid_request(f"{name} must be aligned with minute boundaries.", param=name)
    if end <= start:
        raise invalid_request("end_time must be after start_time.", param="end_time")
    if params["customer"] not in ctx.state.data.customers:
        raise resource_missing("customer", params["customer"], param="customer")
    summary = {
        "id": ids.new_id("mtrusg"),
        "object": "billing.meter_event_summary",
        "aggregated_value": _book(ctx).aggregate(meter, params["customer"], start, end),
        "end_time": end,
        "livemode": False,
        "meter": meter["id"],
        "start_time": start,
    }
    url = f"/v1/billing/meters/{meter['id']}/event_summaries"
    return ctx.render(listing.paginate([summary], params, url), params)


ROUTES = [
    route(
        "POST",
        "/v1/billing/meters",
        create_meter,
        MeterCreateParams,
        Supports(
            "display_name",
            "event_name",
            "default_aggregation.formula=sum|count|last",
            "customer_mapping.event_payload_key",
            "customer_mapping.type=by_id",
            "value_settings.event_payload_key",
        ),
    ),
    route(
        "GET",
        "/v1/billing/meters",
        list_meters,
        MeterListParams,
        Supports("status=active|inactive", "limit", "starting_after", "ending_before"),
    ),
    route(
        "POST",
        "/v1/billing/meter_events",
        create_meter_event,
        MeterEventCreateParams,
        Supports("event_name", "payload", "identifier", "timestamp"),
    ),
    route(
        "GET",
        "/v1/billing/meters/{id}/event_summaries",
        list_event_summaries,
        MeterListEventSummariesParams,
        Supports("customer", "start_time", "end_time", "limit"),
    ),
]
