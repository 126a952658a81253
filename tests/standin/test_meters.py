"""Billing meters: meter events, their de-duplication window, and summaries."""

from __future__ import annotations

import uuid

import pytest
import stripe

from tests.standin.conftest import StandinServer


def _meter(client: stripe.StripeClient, formula: str = "sum") -> stripe.billing.Meter:
    name = f"calls_{uuid.uuid4().hex[:10]}"
    return client.v1.billing.meters.create(
        {
            "display_name": "Calls",
            "event_name": name,
            "default_aggregation": {"formula": formula},
        }
    )


def _send(
    client: stripe.StripeClient,
    meter: stripe.billing.Meter,
    customer: str,
    value: int,
    **kw: object,
) -> stripe.billing.MeterEvent:
    return client.v1.billing.meter_events.create(
        {
            "event_name": meter.event_name,
            "payload": {"stripe_customer_id": customer, "value": str(value)},
            **kw,  # type: ignore[typeddict-item]
        }
    )


def _summary(
    client: stripe.StripeClient, meter: stripe.billing.Meter, customer: str, start: int, end: int
) -> float:
    found = client.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer, "start_time": start, "end_time": end}
    )
    assert len(found.data) == 1
    return float(found.data[0].aggregated_value)


def _window(client: stripe.StripeClient) -> tuple[int, int]:
    # Aligned to minutes, as Stripe requires; wide enough for the events the tests send.
    now = int(client.v1.customers.create({}).created)
    return now - now % 60 - 3600, now - now % 60 + 3600


def test_a_repeated_identifier_is_refused_and_counted_once(standin_server: StandinServer) -> None:
    client = standin_server.client()
    meter = _meter(client)
    customer = client.v1.customers.create({}).id
    start, end = _window(client)
    _send(client, meter, customer, 5, identifier="use-1")
    with pytest.raises(stripe.InvalidRequestError, match="already exists with identifier use-1"):
        _send(client, meter, customer, 5, identifier="use-1")
    _send(client, meter, customer, 2, identifier="use-2")
    assert _summary(client, meter, customer, start, end) == 7


def test_an_identifier_is_taken_again_after_the_24_hour_window(
    standin_server: StandinServer,
) -> None:
    client = standin_server.client()
    meter = _meter(client)
    customer = client.v1.customers.create({}).id
    _send(client, meter, customer, 1, identifier="day-old")
    standin_server.advance(24 * 3600 + 1)
    again = _send(client, meter, customer, 1, identifier="day-old")
    assert again.identifier == "day-old"


@pytest.mark.parametrize(("formula", "expected"), [("sum", 10), ("count", 3), ("last", 3)])
def test_summaries_aggregate_by_the_meters_formula(
    standin_server: StandinServer, formula: str, expected: float
) -> None:
    client = standin_server.client()
    meter = _meter(client, formula)
    customer = client.v1.customers.create({}).id
    start, end = _window(client)
    for offset, value in ((-30, 2), (-20, 5), (-10, 3)):
        _send(client, meter, customer, value, timestamp=start + 3600 + offset)
    other = client.v1.customers.create({}).id
    _send(client, meter, other, 100)
    assert _summary(client, meter, customer, start, end) == expected


def test_a_summary_counts_only_events_inside_its_window(standin_server: StandinServer) -> None:
    client = standin_server.client()
    meter = _meter(client)
    customer = client.v1.customers.create({}).id
    start, end = _window(client)
    end -= 3600  # the last aligned minute before now: an event at end is not in the future
    _send(client, meter, customer, 4, timestamp=start - 1)
    _send(client, meter, customer, 6, timestamp=start)
    _send(client, meter, customer, 8, timestamp=end)
    assert _summary(client, meter, customer, start, end) == 6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_name": "no_such_meter"}, "No active meter"),
        ({"payload": {"value": "1"}}, "stripe_customer_id"),
        ({"payload": {"stripe_customer_id": "cus_missing", "value": "1"}}, "No such customer"),
        ({"value": "2.5"}, "whole number"),
        ({"timestamp": 1}, "35 calendar days"),
    ],
)
def test_meter_events_stripe_refuses_are_refused(
    standin_server: StandinServer, change: dict[str, object], message: str
) -> None:
    client = standin_server.client()
    meter = _meter(client)
    customer = client.v1.customers.create({}).id
    params: dict[str, object] = {
        "event_name": meter.event_name,
        "payload": {"stripe_customer_id": customer, "value": str(change.pop("value", "1"))},
    }
    params.update(change)
    with pytest.raises(stripe.InvalidRequestError, match=message):
        client.v1.billing.meter_events.create(params)  # type: ignore[arg-type]


def test_summary_windows_must_be_minute_aligned(standin_server: StandinServer) -> None:
    client = standin_server.client()
    meter = _meter(client)
    customer = client.v1.customers.create({}).id
    with pytest.raises(stripe.InvalidRequestError, match="minute boundaries"):
        _summary(client, meter, customer, 61, 600)


def test_hourly_summaries_are_refused_as_not_implemented(standin_server: StandinServer) -> None:
    client = standin_server.client()
    meter = _meter(client)
    customer = client.v1.customers.create({}).id
    with pytest.raises(stripe.InvalidRequestError, match="value_grouping_window"):
        client.v1.billing.meters.event_summaries.list(
            meter.id,
            {
                "customer": customer,
                "start_time": 0,
                "end_time": 3600,
                "value_grouping_window": "hour",
            },
        )
