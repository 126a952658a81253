"""Thin events (billing.entitlements.thin_events.resolve): each relevant related object is
read from the v1 API so the webhook knows whose entitlement to sync."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from billing.entitlements.events import customer_of
from billing.entitlements.thin_events import resolve


class _Client:
    def __init__(self) -> None:
        self.read: list[str] = []

    def raw_request(self, method: str, path: str, **_: Any) -> Any:
        assert method == "get"
        self.read.append(path)
        kind = path.split("/")[2]
        return SimpleNamespace(data={"id": path.rsplit("/", 1)[1], "object": kind,
                                     "customer": "cus_A1"})  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "object_id", "path"),
    [
        ("subscription", "sub_1", "/v1/subscriptions/sub_1"),
        ("invoice", "in_1", "/v1/invoices/in_1"),
        # A downgrade scheduled for the period end is announced by this event alone.
        ("subscription_schedule", "sub_sched_1", "/v1/subscription_schedules/sub_sched_1"),
    ],
)
def test_a_thin_event_reads_its_related_object_and_names_the_customer(
    kind: str, object_id: str, path: str
) -> None:
    client = _Client()
    ctx: Any = SimpleNamespace(runtime=SimpleNamespace(stripe=client))
    event = {
        "id": "evt_1",
        "object": "v2.core.event",
        "type": f"v1.{kind}.updated" if kind != "invoice" else "v1.invoice.paid",
        "created": "2026-12-07T07:00:00.000Z",
        "livemode": False,
        "related_object": {"id": object_id, "type": kind, "url": path},
    }
    if kind == "subscription":
        event["type"] = "v1.customer.subscription.updated"
    resolved = resolve(ctx, event)
    assert client.read == [path]
    assert customer_of(resolved) == "cus_A1"
