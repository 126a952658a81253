"""Signed Stripe events, the entitlement document, and the notifications on the topic."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import requests
import stripe
from google.cloud import firestore

from devstack.stack import StackInfo
from devstack.stripe_standin import objects
from devstack.stripe_standin.options import API_VERSION
from tests.support.stack import PATIENCE_S

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "notification.v1.json").read_text()
)


def plain(obj: stripe.StripeObject) -> dict[str, Any]:
    """A Stripe object as the JSON a webhook payload carries."""
    data: dict[str, Any] = json.loads(json.dumps(obj.to_dict(), default=str))
    return data


def signed_post(
    url: str,
    event: dict[str, Any],
    secret: str,
    *,
    timestamp: int | None = None,
    header: str | None = None,
) -> requests.Response:
    body = json.dumps(event)
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(
            body, secret, timestamp=timestamp or int(time.time())
        )
    return requests.post(
        url,
        data=body.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        timeout=60,
    )


def event_for(
    event_type: str, obj: dict[str, Any], *, livemode: bool = False, event_id: str | None = None
) -> dict[str, Any]:
    """An event in the endive shape about ``obj`` (the functions re-read what it names), as
    the stand-in builds them, on its way to one endpoint."""
    event_id = event_id or f"evt_test{uuid.uuid4().hex[:20]}"
    built = objects.event(
        event_id, event_type, obj, None, int(time.time()), None, None, API_VERSION
    )
    return built | {"livemode": livemode, "pending_webhooks": 1}


def entitlement(db: firestore.Client, uid: str) -> dict[str, Any] | None:
    snapshot = db.collection("entitlements").document(uid).get()
    return snapshot.to_dict() if snapshot.exists else None


def event_record(db: firestore.Client, event_id: str) -> dict[str, Any] | None:
    snapshot = db.collection("stripe_events").document(event_id).get()
    return snapshot.to_dict() if snapshot.exists else None


def wait_until[T](probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """``probe()``'s first truthy value. The deadline (at least ``PATIENCE_S``) only bounds a
    failure: generous, so a busy machine (CI's 2 cores, shared) is slow, never red."""
    deadline = time.monotonic() + max(timeout, PATIENCE_S)
    while not (value := probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


class Topic:
    """A pull subscription on the notifications topic: what the email function would receive."""

    def __init__(self, info: StackInfo) -> None:
        assert info.notifications_topic is not None
        self.api = f"http://{info.pubsub_emulator_host}/v1/projects/{info.project_id}"
        self.name = f"observer-{uuid.uuid4().hex[:8]}"
        topic = f"projects/{info.project_id}/topics/{info.notifications_topic}"
        response = requests.put(
            f"{self.api}/subscriptions/{self.name}", json={"topic": topic}, timeout=10
        )
        response.raise_for_status()
        self.seen: list[dict[str, Any]] = []

    def _pull_once(self) -> int:
        response = requests.post(
            f"{self.api}/subscriptions/{self.name}:pull",
            json={"maxMessages": 100, "returnImmediately": True},
            timeout=30,
        )
        response.raise_for_status()
        received = response.json().get("receivedMessages", [])
        for entry in received:
            message = entry["message"]
            data = json.loads(base64.b64decode(message["data"]))
            jsonschema.validate(data, SCHEMA)
            assert message["attributes"] == {
                "type": data["type"],
                "version": "1",
                "notification_id": data["notification_id"],
            }
            self.seen.append(data)
        if received:
            requests.post(
                f"{self.api}/subscriptions/{self.name}:acknowledge",
                json={"ackIds": [entry["ackId"] for entry in received]},
                timeout=30,
            ).raise_for_status()
        return len(received)

    def pull(self, *, quiet_pulls: int = 3, gap: float = 0.2) -> list[dict[str, Any]]:
        """Every message so far (acknowledged, so each is returned once by the emulator).

        Pulled until drained: an immediate pull may answer nothing while messages are there
        (Pub/Sub promises no more with returnImmediately), so one empty answer proves
        nothing; ``quiet_pulls`` empty answers in a row, ``gap`` apart, end it."""
        quiet = 0
        while quiet < quiet_pulls:
            if self._pull_once():
                quiet = 0
            else:
                quiet += 1
                time.sleep(gap)
        return self.seen

    def wait_for(
        self, uid: str, found: Callable[[list[dict[str, Any]]], bool], what: str
    ) -> list[dict[str, Any]]:
        """``uid``'s messages once ``found`` says they are there (pulled until drained)."""

        def arrived() -> list[dict[str, Any]] | None:
            mine = self.for_uid(uid)
            return mine if mine and found(mine) else None

        return wait_until(arrived, what, timeout=120)

    def for_uid(self, uid: str) -> list[dict[str, Any]]:
        return [message for message in self.pull() if message["uid"] == uid]


def wait_for_entitlement(db: firestore.Client, uid: str, **expected: Any) -> dict[str, Any]:
    """``entitlements/{uid}`` once the webhook has brought it to ``expected`` (a subset)."""

    def matches() -> dict[str, Any] | None:
        doc = entitlement(db, uid)
        if doc is None or any(doc.get(key) != value for key, value in expected.items()):
            return None
        return doc

    return wait_until(matches, f"entitlements/{uid} to show {expected}")
