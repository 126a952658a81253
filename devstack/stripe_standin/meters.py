"""Billing meters and their events: what the stand-in keeps, and how it aggregates them.

Modelled on Stripe's docs, which the product relies on:
- a meter event names a meter by ``event_name``, its customer by the meter's
  ``customer_mapping.event_payload_key`` and its value by ``value_settings.event_payload_key``;
  the value is a whole number (https://docs.stripe.com/billing/subscriptions/usage-based/
  recording-usage-api, "Usage values"); the timestamp lies within the past 35 calendar days and
  at most 5 minutes ahead ("Event timestamps"; https://docs.stripe.com/api/billing/meter-event/create);
- ``identifier`` is unique "within a rolling period of at least 24 hours" (same page): the
  stand-in enforces exactly 24 hours, the least Stripe promises, so a product that leans on a
  longer window fails here first. A repeat is refused with a 400 ``invalid_request_error``
  "An event already exists with identifier ..." and no ``code``, as Stripe answers v1 repeats
  (observed and handled in langfuse/langfuse#16292);
- a summary aggregates the events of ``[start_time, end_time)`` (minute-aligned) by the meter's
  ``default_aggregation.formula``: ``sum``, ``count`` or ``last``
  (https://docs.stripe.com/api/billing/meter/create,
  https://docs.stripe.com/api/billing/meter-event-summary/list).

Not modelled: Stripe aggregates asynchronously (summaries are eventually consistent); here an
event counts at once. A product test must therefore never read a summary as proof of timing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.stripe_standin.api_errors import invalid_request

JSONDict = dict[str, Any]

DEDUPE_WINDOW_S = 24 * 3600
PAST_LIMIT_S = 35 * 86400
FUTURE_LIMIT_S = 5 * 60
FORMULAS = ("sum", "count", "last")


@dataclass(frozen=True)
class MeterEvent:
    meter: str  # meter id
    customer: str
    value: int
    timestamp: int
    identifier: str
    created: int


@dataclass
class MeterBook:
    meters: dict[str, JSONDict] = field(default_factory=dict)
    events: list[MeterEvent] = field(default_factory=list)
    identifiers: dict[str, int] = field(default_factory=dict)  # identifier -> when first seen

    def active_by_event_name(self, event_name: str) -> JSONDict | None:
        for meter in self.meters.values():
            if meter["event_name"] == event_name and meter["status"] == "active":
                return meter
        return None

    def seen_recently(self, identifier: str, now: int) -> bool:
        first = self.identifiers.get(identifier)
        return first is not None and now - first < DEDUPE_WINDOW_S

    def aggregate(self, meter: JSONDict, customer: str, start: int, end: int) -> float:
        events = [
            e
            for e in self.events
            if e.meter == meter["id"] and e.customer == customer and start <= e.timestamp < end
        ]
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return float(len(events))
        if formula == "last":
            if not events:
                return 0.0
            return float(max(events, key=lambda e: (e.timestamp, e.created)).value)
        return float(sum(e.value for e in events))


def meter_object(meter_id: str, params: JSONDict, now: int) -> JSONDict:
    customer_key = (params.get("customer_mapping") or {}).get("event_payload_key")
    value_key = (params.get("value_settings") or {}).get("event_payload_key")
    return {
        "id": meter_id,
        "object": "billing.meter",
        "created": now,
        "customer_mapping": {
            "event_payload_key": customer_key or "stripe_customer_id",
            "type": "by_id",
        },
        "default_aggregation": {"formula": params["default_aggregation"]["formula"]},
        "display_name": params["display_name"],
        "event_name": params["event_name"],
        "event_time_window": None,
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": now,
        "value_settings": {"event_payload_key": value_key or "value"},
    }


def whole_number(raw: Any, param: str) -> int:
    text = str(raw).strip()
    if not text.lstrip("-").isdigit():
        raise invalid_request(
            f"Invalid value for {param}: the meter event value must be a whole number.",
            param=param,
        )
    return int(text)


def check_timestamp(timestamp: int, now: int) -> None:
    if timestamp < now - PAST_LIMIT_S or timestamp > now + FUTURE_LIMIT_S:
        raise invalid_request(
            "Timestamp must be within the past 35 calendar days and no more than 5 minutes "
            "in the future.",
            param="timestamp",
        )


def duplicate(identifier: str) -> Exception:
    return invalid_request(
        f"An event already exists with identifier {identifier}.", param="identifier"
    )
