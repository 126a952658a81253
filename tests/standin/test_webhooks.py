"""Webhook delivery: signed as Stripe signs, retried, redelivered, held and reordered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from tests.standin.conftest import StandinServer, wait_for
from tests.support.stack import PATIENCE_S

SECRET = "whsec_test_receiver_secret"


@dataclass
class Receiver:
    url: str
    received: list[tuple[bytes, str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, customer_id: str | None = None) -> list[stripe.Event]:
        """Every delivery so far, verified; optionally only those about one customer."""
        with self.lock:
            received = list(self.received)
        events = [stripe.Webhook.construct_event(body, sig, SECRET) for body, sig in received]
        if customer_id is None:
            return events
        return [e for e in events if _customer_of(e) == customer_id]


def _wait_events(receiver: Receiver, customer_id: str, count: int) -> list[stripe.Event]:
    """Wait until exactly ``count`` deliveries about the customer have arrived."""

    def arrived() -> list[stripe.Event] | None:
        events = receiver.events(customer_id)
        return events if len(events) >= count else None

    events = wait_for(arrived)
    assert len(events) == count
    return events


def _customer_of(event: stripe.Event) -> Any:
    obj = event.data.object.to_dict()
    return obj["id"] if obj["object"] == "customer" else obj.get("customer")


@pytest.fixture
def receiver(standin_server: StandinServer) -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = holder["receiver"]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with target.lock:
                target.received.append((body, self.headers["Stripe-Signature"]))
                status = target.statuses.pop(0) if target.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = Receiver(f"http://127.0.0.1:{server.server_port}/webhook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    standin_server.control(
        "POST",
        "/_standin/config",
        {"webhook_url": holder["receiver"].url, "webhook_secret": SECRET},
    )
    try:
        yield holder["receiver"]
    finally:
        standin_server.control("POST", "/_standin/config", {"webhook_url": None})
        server.shutdown()
        server.server_close()


def test_events_arrive_signed_and_verify_with_the_sdk(
    client: stripe.StripeClient, receiver: Receiver, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    client.v1.customers.update(customer.id, {"name": "Grace"})
    events = _wait_events(receiver, customer.id, 2)
    assert [e.type for e in events] == ["customer.created", "customer.updated"]
    created = events[0]
    assert created.api_version == "2026-10-28.endive"
    assert created.data.object["email"] == email
    assert created.request is not None
    assert created.request.id is not None
    assert events[1].data.previous_attributes is not None
    assert events[1].data.previous_attributes["name"] is None
    # Delivered events are no longer pending.
    wait_for(lambda: client.v1.events.retrieve(created.id).pending_webhooks == 0)


def test_a_tampered_body_fails_verification(
    client: stripe.StripeClient, receiver: Receiver, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    _wait_events(receiver, customer.id, 1)
    body, signature = receiver.received[-1]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"customer", b"kustomer"), signature, SECRET)


def test_a_5xx_is_retried_until_acknowledged(
    client: stripe.StripeClient,
    standin_server: StandinServer,
    receiver: Receiver,
    email: str,
) -> None:
    receiver.statuses.extend([500, 503])
    customer = client.v1.customers.create({"email": email})
    events = _wait_events(receiver, customer.id, 3)
    assert {e.id for e in events} == {events[0].id}
    # The third attempt reaches the receiver before the stand-in records its answer: wait for
    # the record (it was read too early once on a loaded machine).
    deliveries = wait_for(
        lambda: (
            found
            if len(
                found := standin_server.control(
                    "GET", f"/_standin/events/deliveries?event_id={events[0].id}"
                )["data"]
            )
            >= 3
            else None
        )
    )
    assert [(d["attempt"], d["status"], d["ok"]) for d in deliveries] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]


def test_retries_stop_after_max_attempts(
    client: stripe.StripeClient,
    standin_server: StandinServer,
    receiver: Receiver,
    email: str,
) -> None:
    standin_server.control("POST", "/_standin/config", {"webhook_max_attempts": 2})
    receiver.statuses.extend([500] * 10)
    customer = client.v1.customers.create({"email": email})
    event_id = _wait_events(receiver, customer.id, 1)[0].id
    wait_for(
        lambda: (
            len(
                standin_server.control("GET", f"/_standin/events/deliveries?event_id={event_id}")[
                    "data"
                ]
            )
            == 2
        )
    )
    assert standin_server.standin.dispatcher.wait_idle(PATIENCE_S)
    assert len(receiver.events(customer.id)) == 2
    assert client.v1.events.retrieve(event_id).pending_webhooks == 1


def test_redeliver_sends_a_duplicate(
    client: stripe.StripeClient,
    standin_server: StandinServer,
    receiver: Receiver,
    email: str,
) -> None:
    customer = client.v1.customers.create({"email": email})
    first = _wait_events(receiver, customer.id, 1)[0]
    standin_server.control("POST", f"/_standin/events/{first.id}/redeliver")
    events = _wait_events(receiver, customer.id, 2)
    assert [e.id for e in events] == [first.id, first.id]


def test_paused_events_are_released_in_reverse(
    client: stripe.StripeClient,
    standin_server: StandinServer,
    receiver: Receiver,
    email: str,
) -> None:
    standin_server.control("POST", "/_standin/webhooks/pause")
    customer = client.v1.customers.create({"email": email})
    for name in ("one", "two", "three"):
        client.v1.customers.update(customer.id, {"name": name})
    status = standin_server.control("GET", "/_standin/webhooks")
    assert status["paused"] is True
    assert status["held"] >= 4
    assert receiver.events(customer.id) == []
    standin_server.control("POST", "/_standin/webhooks/resume", {"order": "reverse"})
    events = _wait_events(receiver, customer.id, 4)
    assert [e.type for e in events] == ["customer.updated"] * 3 + ["customer.created"]
    assert [e.data.object["name"] for e in events[:3]] == ["three", "two", "one"]


def test_subscription_flow_events_are_delivered(
    client: stripe.StripeClient, receiver: Receiver, email: str
) -> None:
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": "price_basic_monthly"}]}
    )
    wanted = {"customer.subscription.created", "invoice.paid", "invoice.payment_succeeded"}
    wait_for(lambda: wanted <= {e.type for e in receiver.events(customer.id)})
    paid = next(e for e in receiver.events(customer.id) if e.type == "invoice.paid")
    invoice = paid.data.object
    assert invoice["parent"]["subscription_details"]["subscription"].startswith("sub_")
    assert "payment_intent" not in invoice


def test_a_thin_destination_gets_references_the_sdk_parses_and_fetches(
    client: stripe.StripeClient,
    receiver: Receiver,
    email: str,
    standin_server: StandinServer,
) -> None:
    """An event destination with thin payloads: no object, a related_object to fetch
    (https://docs.stripe.com/event-destinations#thin-events), read as stripe-python does."""
    standin_server.control("POST", "/_standin/config", {"webhook_payload": "thin"})
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": "price_basic_monthly"}]}
    )

    def created() -> list[Any] | None:
        with receiver.lock:
            received = list(receiver.received)
        found = []
        for body, signature in received:
            parsed = json.loads(body)
            # Events of earlier tests may still be in the queue, encoded before the switch.
            if parsed.get("object") != "v2.core.event":
                continue
            if (parsed.get("related_object") or {}).get("id") != sub.id:
                continue
            notification = client.parse_event_notification(body, signature, SECRET)
            if notification.type == "v1.customer.subscription.created":
                found.append((parsed, notification))
        return found or None

    [(body, notification)] = wait_for(created)
    assert "data" not in body
    assert body["object"] == "v2.core.event"
    assert body["related_object"] == {
        "id": sub.id,
        "type": "subscription",
        "url": f"/v1/subscriptions/{sub.id}",
    }
    fetched = notification.fetch_related_object()
    assert (fetched.id, fetched.customer) == (sub.id, customer.id)
