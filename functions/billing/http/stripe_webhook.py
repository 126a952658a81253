"""The Stripe webhook's policy: the raw body, ``Stripe-Signature``, answers Stripe understands.

Stripe retries anything but a 2xx for up to three days, and disables an endpoint that keeps
failing, so the answers are chosen for Stripe, not for a person:

- 400 only when the request is not a genuine, well-formed event: no, forged or stale
  signature (checked against every configured signing secret, so a secret can be rolled
  without downtime), or a body that is not an event. Nothing is touched.
- 2xx for every genuine event whose effect happened, or that needs none: irrelevant types,
  customers we do not know, an event of the other mode (live vs test; logged).
- 5xx when Firestore, Pub/Sub or Stripe failed: the effect did not happen and Stripe retries.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import flask
import stripe

from billing.context import Context
from billing.entitlements import thin_events
from billing.errors import INVALID_SIGNATURE, MALFORMED_EVENT, BadRequest, MethodNotAllowed
from billing.http.body import read_body
from billing.http.shell import HttpFunction, json_response
from core import logs

if TYPE_CHECKING:
    from billing.runtime import Runtime

log = logging.getLogger("billing.webhook")

type Event = dict[str, Any]
type Processor = Callable[[Context, Event], str]


def verify(payload: bytes, header: str | None, secrets: list[str], tolerance: int) -> None:
    """Raises BadRequest unless ``header`` signs ``payload`` with one of ``secrets``, at a time
    within ``tolerance`` seconds of now, on either side."""
    if not header:
        raise BadRequest("The Stripe-Signature header is missing.", code=INVALID_SIGNATURE)
    text = payload.decode("utf-8", errors="replace")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance=tolerance)
        except stripe.SignatureVerificationError:
            continue
        # stripe-python (16.x) bounds only the past side: a signature dated ten years ahead
        # would stay valid, and replayable, for ten years. stripe-php and stripe-dotnet compare
        # |now - t| with the tolerance (stripe/stripe-php#657, stripe/stripe-dotnet#1183);
        # so does this check, on the t= that verify_header has just verified.
        if _signed_at(header) > time.time() + tolerance:
            raise BadRequest(
                "The Stripe-Signature timestamp is in the future, beyond the tolerance.",
                code=INVALID_SIGNATURE,
            )
        return
    raise BadRequest(
        "The Stripe-Signature header does not match the body, or is too old.",
        code=INVALID_SIGNATURE,
    )


def _signed_at(header: str) -> int:
    # The first t=, read as stripe-python's WebhookSignature._get_timestamp_and_signatures does.
    items = [item.split("=", 2) for item in header.split(",")]
    return int(next(item[1] for item in items if item[0] == "t"))


# Stripe's event ids: a prefix and letters or digits.
_EVENT_ID = re.compile(r"^evt_[A-Za-z0-9_]{1,255}$")


def parse_event(payload: bytes) -> Event:
    """The event, or 400 when the body is not one: the envelope every handler relies on must be
    there with Stripe's types, so nothing later fails on a malformed (if signed) body. What the
    object inside says is judged by the handler (an unusable one is acknowledged, not 4xx).

    A thin event (``object`` "v2.core.event", from an event destination with thin payloads)
    is returned as it came, its envelope checked; :func:`thin_events.resolve` makes it whole."""
    try:
        event: Event = json.loads(payload)
    except (ValueError, RecursionError):
        raise BadRequest("The body is not a JSON event.", code=MALFORMED_EVENT) from None
    if thin_events.is_thin(event):
        problem = thin_events.envelope_problem(event)
        if problem is not None:
            raise BadRequest(
                f"The body is not a Stripe thin event: {problem}.", code=MALFORMED_EVENT
            )
        return event
    problem = _envelope_problem(event)
    if problem is not None:
        raise BadRequest(
            f"The body is not a Stripe event: {problem} "
            "(an event has id evt_..., type, livemode, created and data.object).",
            code=MALFORMED_EVENT,
        )
    return event


def _envelope_problem(event: Any) -> str | None:
    """What is wrong with the event's envelope, or None. Each part's type is checked before
    it is read, so no JSON value (``"data": "x"``, ``null``, ``[1]``) can raise here."""
    if not isinstance(event, dict):
        return "it is not a JSON object"
    if not (isinstance(event.get("id"), str) and _EVENT_ID.match(event["id"])):
        return "id is not an event id (evt_...)"
    if not isinstance(event.get("type"), str):
        return "type is not a string"
    if not isinstance(event.get("livemode"), bool):
        return "livemode is not true or false"
    if type(event.get("created")) is not int:
        return "created is not an integer"
    data = event.get("data")
    if not isinstance(data, dict):
        return "data is not an object"
    if not isinstance(data.get("object"), dict):
        return "data.object is not an object"
    return None


class StripeWebhookEndpoint(HttpFunction):
    def __init__(self, name: str, process: Processor) -> None:
        super().__init__(name)
        self.process = process

    def respond(self, request: flask.Request, rt: Runtime, request_id: str) -> flask.Response:
        if request.method != "POST":
            raise MethodNotAllowed(["POST"])
        settings = rt.settings
        payload = read_body(
            request, settings.max_webhook_body_bytes, timeout=settings.body_timeout_seconds
        )
        secrets = [secret.get_secret_value() for secret in settings.stripe_webhook_secrets]
        verify(
            payload,
            request.headers.get("Stripe-Signature"),
            secrets,
            settings.stripe_webhook_tolerance_seconds,
        )
        event = parse_event(payload)
        logs.bind(stripe_event_id=event["id"], stripe_event_type=event["type"])
        ctx = Context(runtime=rt, request_id=request_id)
        if thin_events.is_thin(event) and event["livemode"] == settings.stripe_key_is_live:
            event = thin_events.resolve(ctx, event)
        if event["livemode"] != settings.stripe_key_is_live:
            log.warning(
                "event of the other mode ignored: livemode=%s but the configured key is %s",
                event["livemode"],
                "live" if settings.stripe_key_is_live else "test",
            )
            return json_response({"received": True, "outcome": "ignored_other_mode"}, 200)
        outcome = self.process(ctx, event)
        return json_response({"received": True, "outcome": outcome}, 200)
