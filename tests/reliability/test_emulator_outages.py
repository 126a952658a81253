"""An emulator going away mid-run and coming back: nothing lost, nothing done twice.

These tests stop and start processes, so they run on a small stack of their own (never the
integration tests' shared one): Firestore, Pub/Sub, the Stripe stand-in and the functions a
checkout touches, with 2-second Firestore and Pub/Sub deadlines so an outage shows at once.

- Pub/Sub is killed and started again (empty, like a real restart of the emulator): a payment
  made meanwhile activates the entitlement at once, its receipt waits in the outbox of the
  event record, and Stripe's next delivery publishes it exactly once.
- Firestore stops answering (the process is frozen, then thawed: a real Firestore outage
  keeps its data, which killing the in-memory emulator would not): calls answer 503 within
  the deadline and touch nothing in Stripe; once it answers again, the retried calls make one
  customer and process the event once.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from devstack.stack import FunctionSpec, Stack, StackInfo
from tests.support.billing_flows import intent_id
from tests.support.stack_fixtures import Api, StandIn, User
from tests.support.webhooks import (
    Topic,
    entitlement,
    event_for,
    event_record,
    plain,
    signed_post,
    wait_until,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = [
    FunctionSpec("create_customer", "http"),
    FunctionSpec("create_subscription", "http"),
    FunctionSpec("stripe_webhook", "http", webhook=True),
]


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("outages")
    shutil.copy(REPO / ".env.example", state / ".env.example")
    overrides = {"FIRESTORE_TIMEOUT_SECONDS": "2", "PUBSUB_TIMEOUT_SECONDS": "2"}
    stack = Stack(state_dir=state, env_dir=state, env_overrides=overrides, functions=FUNCTIONS)
    with stack:
        yield stack


@pytest.fixture(scope="module")
def info(outage_stack: Stack) -> StackInfo:
    assert outage_stack.info is not None
    return outage_stack.info


@pytest.fixture(scope="module")
def standin(info: StackInfo) -> StandIn:
    standin = StandIn(info)
    # Stripe keeps redelivering for days; here each test redelivers by hand once it is time.
    standin.post("/_standin/config", {"webhook_max_attempts": 2, "webhook_backoff_s": 0.2})
    return standin


@pytest.fixture(scope="module")
def db(info: StackInfo) -> firestore.Client:
    os.environ["FIRESTORE_EMULATOR_HOST"] = info.firestore_emulator_host
    return firestore.Client(project=info.project_id, credentials=AnonymousCredentials())


def _user(info: StackInfo) -> User:
    return User(Api(info), info.project_id)


def _stripe_customers(standin: StandIn, user: User) -> list[str]:
    return [c.id for c in standin.sdk.v1.customers.list({"email": user.email}).data]


def _paid_invoice_event(standin: StandIn, user: User) -> str:
    """The id of the invoice.paid event the stand-in made for the user's first payment."""
    customer = _stripe_customers(standin, user)[0]
    events = standin.sdk.v1.events.list({"type": "invoice.paid", "limit": 100}).data
    mine = [e.id for e in events if e.data.object["customer"] == customer]
    assert len(mine) == 1, mine
    return mine[0]


def test_pubsub_down_and_back_publishes_the_receipt_exactly_once(
    outage_stack: Stack, info: StackInfo, standin: StandIn, db: firestore.Client
) -> None:
    user = _user(info)
    user.customer()
    outage_stack.stop_service("pubsub")
    try:
        created = user.ok("create-subscription", {"price_id": "price_basic_monthly"})
        standin.sdk.v1.payment_intents.confirm(
            intent_id(created["client_secret"]), params={"payment_method": "pm_card_visa"}
        )
        # The effect happens without Pub/Sub; the receipt waits, recorded, for a redelivery.
        wait_until(lambda: (entitlement(db, user.uid) or {}).get("active"), "access granted")
        event_id = _paid_invoice_event(standin, user)
        record = wait_until(
            lambda: (r := event_record(db, event_id)) and r["synced"] and r, "outbox record"
        )
        assert record["notification"]["type"] == "payment_succeeded"
        assert record["published"] is False
        assert record["status"] != "done"
        # Stripe's own retries (two attempts here) are spent before Pub/Sub comes back: one
        # landing between the topic's re-creation and the observer's subscription below would
        # publish the receipt where nobody listens (a fresh clone's CI lost it that way).
        wait_until(
            lambda: (status := standin.webhooks()) and not status["queued"]
            and not status["in_flight"],
            "the stand-in's own retries to be spent",
        )  # fmt: skip
    finally:
        outage_stack.start_service("pubsub")
    topic = Topic(info)  # the restarted emulator starts empty: observe from now on

    def redeliver() -> dict[str, Any] | None:
        """Has the stand-in deliver the event again and waits until that delivery has been
        answered (queued, then in flight, then done: its status says so), not for a while."""
        requests.post(
            f"{standin.control}/_standin/events/{event_id}/redeliver", timeout=30
        ).raise_for_status()
        wait_until(
            lambda: (status := standin.webhooks()) and not status["queued"]
            and not status["in_flight"],
            "the redelivery to be answered",
        )  # fmt: skip
        found = event_record(db, event_id)
        return found if found and found["status"] == "done" else None

    # A delivery may still meet a Pub/Sub client that has not reconnected: Stripe would come
    # back, so does this loop, until the event is done.
    wait_until(redeliver, "the redelivery to publish", timeout=180)
    redeliver()  # once more: a duplicate now, publishing nothing
    # Pulled until the receipt is there, then until drained: exactly one, however slow.
    topic.wait_for(
        user.uid,
        lambda mine: any(m["type"] == "payment_succeeded" for m in mine),
        "the receipt on the topic",
    )
    receipts = [m for m in topic.for_uid(user.uid) if m["type"] == "payment_succeeded"]
    assert [m["notification_id"] for m in receipts] == [f"{event_id}:payment_succeeded"]


def test_firestore_frozen_and_back_loses_nothing_and_doubles_nothing(
    outage_stack: Stack, info: StackInfo, standin: StandIn, db: firestore.Client
) -> None:
    subscriber = _user(info)
    customer = subscriber.customer()
    newcomer = _user(info)
    secret = info.stripe.webhook_secret
    assert secret is not None
    event = event_for("customer.updated", plain(standin.sdk.v1.customers.retrieve(customer)))
    event["type"] = "entitlements.active_entitlement_summary.updated"
    event["data"]["object"] = {
        "object": "entitlements.active_entitlement_summary",
        "customer": customer,
    }
    firestore_group = outage_stack.started_pids["firestore"]
    os.killpg(firestore_group, signal.SIGSTOP)
    try:
        started = time.monotonic()
        refused = newcomer.call("create-customer", {"name": "New"})
        webhook = signed_post(info.stripe.webhook_url or "", event, secret)
        waited = time.monotonic() - started
    finally:
        os.killpg(firestore_group, signal.SIGCONT)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "upstream_unavailable"
    assert "Retry-After" in refused.headers
    assert webhook.status_code == 503, webhook.text
    # The deadline is 2 s per call; a hang would be minutes. The bound only tells the two apart,
    # generously, so a busy machine is not mistaken for a hang.
    assert waited < 60, f"answers took {waited:.1f} s: the deadline did not hold"
    assert _stripe_customers(standin, newcomer) == []  # Stripe untouched while unsure
    # Back: the same calls, retried, complete once.
    first = wait_until(
        lambda: (
            (r := newcomer.call("create-customer", {"name": "New"})).status_code == 200 and r.json()
        ),
        "create-customer after the outage",
    )
    assert first["created"] is True
    assert newcomer.ok("create-customer", {})["customer_id"] == first["customer_id"]
    assert _stripe_customers(standin, newcomer) == [first["customer_id"]]
    url = info.stripe.webhook_url or ""
    outcomes = [signed_post(url, event, secret).json()["outcome"] for _ in range(2)]
    assert outcomes == ["processed", "duplicate"]
    record = event_record(db, event["id"])
    assert record is not None
    assert record["status"] == "done"
    assert entitlement(db, subscriber.uid) is not None
