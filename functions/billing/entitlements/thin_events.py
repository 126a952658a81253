"""Thin events: what an event destination with thin payloads sends, made whole.

A thin event carries no object, only a reference to it: ``{"object": "v2.core.event", "type":
"v1.customer.subscription.updated", "created": "<RFC 3339>", "related_object": {"id", "type",
"url"}}``. Its payload is unversioned; "you must fetch the versioned event from the API or
fetch the resource's current state" (https://docs.stripe.com/event-destinations#thin-events;
the shape is stripe-python's ``EventNotification``). Without this, every delivery of a thin
destination would be a 400 until Stripe disabled it.

:func:`resolve` fetches the related object from the v1 API by its type and id (never by the
payload's ``url``) and returns the snapshot-shaped event the webhook processes: the sync
re-reads the customer anyway, so the object only has to say whom. A thin event whose type
names no object (an entitlement summary's has no ``related_object``) resolves to an empty
object: it is acknowledged, and the subscription and invoice events around it carry the sync.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import stripe

from billing.context import Context
from billing.entitlements.events import RELEVANT
from billing.stripe_api import raw
from billing.translate import is_resource_missing

log = logging.getLogger(__name__)

type Event = dict[str, Any]

THIN = "v2.core.event"
_EVENT_ID = re.compile(r"^evt_[A-Za-z0-9_]{1,255}$")
# The related objects whose events change access, and where the v1 API reads them.
_READ = {
    "subscription": ("/v1/subscriptions/", re.compile(r"^sub_[A-Za-z0-9]{1,255}$")),
    "invoice": ("/v1/invoices/", re.compile(r"^in_[A-Za-z0-9]{1,255}$")),
    # subscription_schedule.updated carries a scheduled downgrade (DOWNGRADE_POLICY=period_end)
    # that no subscription event announces; without reading it a thin destination never
    # shows the pending plan.
    "subscription_schedule": (
        "/v1/subscription_schedules/",
        re.compile(r"^sub_sched_[A-Za-z0-9]{1,255}$"),
    ),
}


def is_thin(event: Any) -> bool:
    return isinstance(event, dict) and event.get("object") == THIN


def envelope_problem(event: Event) -> str | None:
    if not (isinstance(event.get("id"), str) and _EVENT_ID.match(event["id"])):
        return "id is not an event id (evt_...)"
    if not isinstance(event.get("type"), str):
        return "type is not a string"
    if not isinstance(event.get("livemode"), bool):
        return "livemode is not true or false"
    if _created(event.get("created")) is None:
        return "created is not an RFC 3339 time"
    related = event.get("related_object")
    if related is not None and not (
        isinstance(related, dict)
        and isinstance(related.get("id"), str)
        and isinstance(related.get("type"), str)
    ):
        return "related_object is not an object with an id and a type"
    return None


def _created(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None


def resolve(ctx: Context, event: Event) -> Event:
    """The snapshot-shaped event for a thin one (see the module's docstring)."""
    snapshot_type = str(event["type"]).removeprefix("v1.")
    created = _created(event["created"])
    assert created is not None  # envelope_problem checked it
    obj: dict[str, Any] = {}
    related = event.get("related_object") or {}
    read = _READ.get(related.get("type", ""))
    if snapshot_type in RELEVANT and read is not None and read[1].match(related["id"]):
        try:
            obj = dict(raw.get(ctx.runtime.stripe, read[0] + related["id"]))
        except stripe.InvalidRequestError as exc:
            if not is_resource_missing(exc):
                raise
            log.warning("a thin event's object is gone from Stripe: nothing to sync")
    return {
        "id": event["id"],
        "object": "event",
        "type": snapshot_type,
        "livemode": event["livemode"],
        "created": created,
        "data": {"object": obj},
    }
