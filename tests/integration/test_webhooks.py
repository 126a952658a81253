"""The Stripe webhook over HTTP: signed events, entitlements/{uid}, notifications on the topic."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from google.cloud import firestore

from billing.config import BillingSettings
from billing.context import Context
from billing.runtime import Runtime
from devstack.stack import REPO_ROOT, Stack, StackInfo
from devstack.tokens import mint_scheduler_token, new_scheduler_key
from tests.support.billing_flows import OTHER_PRICE, PRICE, failed_first_payment, subscribe
from tests.support.stack_fixtures import StandIn, User, extra_function
from tests.support.webhooks import (
    Topic,
    entitlement,
    event_for,
    event_record,
    plain,
    signed_post,
    wait_until,
)

DEAD = "127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture(scope="module")
def topic(stack: StackInfo) -> Topic:
    return Topic(stack)


@pytest.fixture
def webhook(stack: StackInfo) -> tuple[str, str]:
    assert stack.stripe.webhook_url is not None
    assert stack.stripe.webhook_secret is not None
    return stack.stripe.webhook_url, stack.stripe.webhook_secret


def _sub_object(standin: StandIn, subscription_id: str) -> dict[str, Any]:
    return plain(standin.sdk.v1.subscriptions.retrieve(subscription_id))


def _event_left_in_progress(
    user: User,
    standin: StandIn,
    db: firestore.Client,
    lease_left: timedelta,
    recorded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An update event about a new subscription of ``user``, whose inbox record another
    delivery left in progress: its lease ends ``lease_left`` from now, ``recorded`` is what
    that delivery had written (nothing by default)."""
    created = subscribe(user, standin)
    event = event_for(
        "customer.subscription.updated", _sub_object(standin, created["subscription_id"])
    )
    db.collection("stripe_events").document(event["id"]).set(
        {
            "type": event["type"], "uid": user.uid, "status": "processing", "owner": "other",
            "lease_until": datetime.now(UTC) + lease_left, "synced": False,
            "notification": None, "published": False,
        } | (recorded or {})
    )  # fmt: skip
    return event


def _deliveries_settled(standin: StandIn) -> None:
    """Waits until the stand-in has no webhook delivery queued or in flight (each answered)."""
    wait_until(
        lambda: (status := standin.webhooks()) and not status["queued"]
        and not status["in_flight"],
        "the stand-in's webhook deliveries to be answered",
    )  # fmt: skip


def _invoice_paid(user: User, standin: StandIn) -> dict[str, Any]:
    """A paid subscription's first invoice.paid event, as Stripe would send it."""
    created = subscribe(user, standin)
    invoice_id = _sub_object(standin, created["subscription_id"])["latest_invoice"]
    return event_for("invoice.paid", plain(standin.sdk.v1.invoices.retrieve(invoice_id)))


def _where(
    db: firestore.Client, uid: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    doc = entitlement(db, uid)
    return doc if doc is not None and check(doc) else None


def _active(db: firestore.Client, uid: str) -> dict[str, Any] | None:
    return _where(db, uid, lambda doc: bool(doc["active"]))


def test_paying_makes_the_entitlement_active_with_the_products_features(
    user: User, standin: StandIn, db: firestore.Client, topic: Topic
) -> None:
    created = subscribe(user, standin)
    doc = wait_until(lambda: _active(db, user.uid), "the entitlement to turn active")
    period_end = standin.sdk.v1.subscriptions.retrieve(created["subscription_id"]).items.data[0]
    assert doc["status"] == "active"
    assert doc["subscription_id"] == created["subscription_id"]
    assert doc["price_id"] == PRICE
    assert doc["product_id"] == "prod_basic"
    assert doc["features"] == ["reports"]
    assert doc["cancel_at_period_end"] is False
    assert doc["current_period_end"] == period_end.current_period_end
    assert doc["valid_until"] == period_end.current_period_end
    assert doc["updated_at"] is not None
    receipts = wait_until(
        lambda: [m for m in topic.for_uid(user.uid) if m["type"] == "payment_succeeded"],
        "the receipt notification",
    )
    assert len(receipts) == 1
    receipt = receipts[0]
    assert receipt["email"] == user.email
    assert receipt["customer_name"] == "Test User"
    assert receipt["product_name"] == "Basic"
    assert receipt["invoice"]["amount_paid"] == 999
    assert receipt["invoice"]["currency"] == "usd"
    assert receipt["invoice"]["hosted_invoice_url"].startswith("http")


def test_cancelling_ends_access_and_says_so_once(
    user: User, standin: StandIn, db: firestore.Client, topic: Topic
) -> None:
    created = subscribe(user, standin)
    wait_until(lambda: _active(db, user.uid), "the entitlement to turn active")
    standin.sdk.v1.subscriptions.cancel(created["subscription_id"])
    doc = wait_until(
        lambda: _where(db, user.uid, lambda d: d["status"] == "canceled"),
        "the entitlement to show the cancellation",
    )
    assert doc["active"] is False
    assert doc["features"] == []
    assert doc["valid_until"] is None
    ended = wait_until(
        lambda: [m for m in topic.for_uid(user.uid) if m["type"] == "subscription_canceled"],
        "the cancellation notification",
    )
    assert len(ended) == 1
    assert ended[0]["subscription"]["id"] == created["subscription_id"]


def _processed(db: firestore.Client, standin: StandIn, event_type: str, object_id: str) -> str:
    """The id of the ``event_type`` event about ``object_id``, once the webhook has done it."""

    def done() -> str | None:
        found = standin.sdk.v1.events.list(params={"type": event_type, "limit": 100}).data
        for event in found:
            if event.data.object["id"] != object_id:
                continue
            record = event_record(db, event.id)
            return event.id if record and record.get("status") == "done" else None
        return None

    return wait_until(done, f"{event_type} about {object_id} to be processed")


def test_an_abandoned_checkout_ends_without_a_canceled_mail(
    user: User, standin: StandIn, db: firestore.Client, topic: Topic
) -> None:
    """Issue 15, point 13: the unfinished checkout that create-subscription ends when the
    customer picks another plan was never paid: no "subscription canceled" mail."""
    user.customer()
    first = user.ok("create-subscription", {"price_id": PRICE})
    user.ok("create-subscription", {"price_id": OTHER_PRICE})
    assert standin.sdk.v1.subscriptions.retrieve(first["subscription_id"]).status == "canceled"
    _processed(db, standin, "customer.subscription.deleted", first["subscription_id"])
    assert [m for m in topic.for_uid(user.uid) if m["type"] == "subscription_canceled"] == []


def test_a_decline_on_the_payment_form_sends_no_mail(
    user: User, standin: StandIn, db: firestore.Client, topic: Topic
) -> None:
    """Issue 15, point 14: the form shows the first payment's decline; no mail beside it."""
    failed = failed_first_payment(user, standin)
    _processed(db, standin, "invoice.payment_failed", failed["invoice_id"])
    assert [m for m in topic.for_uid(user.uid) if m["type"] == "payment_failed"] == []


def test_a_feature_added_in_stripe_reaches_a_new_subscriber_without_a_deploy(
    user: User, other_user: User, standin: StandIn, db: firestore.Client
) -> None:
    """Stripe gives a product's new feature to new subscribers at once and to existing ones at
    their next period (the stand-in's own test covers the renewal); no deploy either way."""
    subscribe(user, standin)
    wait_until(lambda: _active(db, user.uid), "the entitlement to turn active")
    key = f"exports_{user.uid.replace('-', '_')}"
    feature = standin.sdk.v1.entitlements.features.create({"name": "Exports", "lookup_key": key})
    standin.sdk.v1.products.features.create("prod_basic", {"entitlement_feature": feature.id})
    subscribe(other_user, standin)
    doc = wait_until(
        lambda: _where(db, other_user.uid, lambda d: key in d["features"]),
        "the new feature in the new subscriber's entitlement",
    )
    assert "reports" in doc["features"]
    existing = standin.sdk.v1.entitlements.active_entitlements.list(
        params={"customer": user.customer()}
    )
    assert key not in [e.lookup_key for e in existing.data]  # until their renewal


def test_retrieve_subscription_refreshes_the_entitlement_before_the_webhook(
    user: User, paused: StandIn, db: firestore.Client
) -> None:
    created = subscribe(user, paused)
    assert entitlement(db, user.uid) is None  # the webhook has not been told yet
    user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    doc = entitlement(db, user.uid)
    assert doc is not None
    assert doc["active"] is True


def test_retrieve_subscription_refreshes_whenever_stripe_says_something_else(
    user: User, paused: StandIn, db: firestore.Client
) -> None:
    created = subscribe(user, paused)
    sub_id = created["subscription_id"]
    user.ok("retrieve-subscription", {"subscription_id": sub_id})
    first = entitlement(db, user.uid)
    assert first is not None
    assert first["cancel_at_period_end"] is False
    # Nothing changed: the document is left alone (no sync wrote a new version).
    user.ok("retrieve-subscription", {"subscription_id": sub_id})
    unchanged = entitlement(db, user.uid)
    assert unchanged is not None
    assert unchanged["version"] == first["version"]
    # Changed in Stripe behind the product's back (the Dashboard), its webhook still held:
    # the next retrieve-subscription must write it.
    paused.sdk.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": True})
    user.ok("retrieve-subscription", {"subscription_id": sub_id})
    refreshed = entitlement(db, user.uid)
    assert refreshed is not None
    assert refreshed["cancel_at_period_end"] is True
    assert refreshed["version"] > first["version"]


@pytest.mark.parametrize("order", ["reverse", "shuffle", "as_is"])
def test_any_arrival_order_ends_in_stripes_state(
    order: str, user: User, paused: StandIn, db: firestore.Client, topic: Topic
) -> None:
    created = subscribe(user, paused)
    user.ok(
        "handle-subscription",
        {"subscription_id": created["subscription_id"], "cancel_at_period_end": True},
    )
    paused.post("/_standin/webhooks/resume", {"order": order})
    sub = paused.sdk.v1.subscriptions.retrieve(created["subscription_id"])

    wait_until(
        lambda: _where(db, user.uid, lambda d: d["cancel_at_period_end"] and d["active"]),
        "the entitlement to settle",
    )
    _deliveries_settled(paused)  # every held event has landed: nothing moved it back
    doc = entitlement(db, user.uid)
    assert doc is not None
    assert doc["status"] == sub.status == "active"
    assert doc["cancel_at_period_end"] is True
    receipts = [m for m in topic.for_uid(user.uid) if m["type"] == "payment_succeeded"]
    assert len(receipts) == 1


def test_twenty_concurrent_deliveries_of_one_event_make_one_message(
    user: User, paused: StandIn, db: firestore.Client, topic: Topic, webhook: tuple[str, str]
) -> None:
    created = subscribe(user, paused)
    invoice_id = _sub_object(paused, created["subscription_id"])["latest_invoice"]
    invoice = plain(paused.sdk.v1.invoices.retrieve(invoice_id))
    event = event_for("invoice.paid", invoice)
    url, secret = webhook
    answers: list[int] = []
    start = threading.Barrier(20)

    def deliver() -> None:
        start.wait()
        answers.append(signed_post(url, event, secret).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] * 20
    record = event_record(db, event["id"])
    assert record is not None
    assert record["status"] == "done"
    assert _active(db, user.uid) is not None
    # Every delivery has answered, so whatever was published is on the topic: drained, one.
    mine = [m for m in topic.for_uid(user.uid) if m["notification_id"].startswith(event["id"])]
    assert len(mine) == 1


def test_a_redelivered_event_is_answered_as_a_duplicate_and_publishes_nothing(
    user: User, paused: StandIn, db: firestore.Client, topic: Topic, webhook: tuple[str, str]
) -> None:
    created = subscribe(user, paused)
    sub = _sub_object(paused, created["subscription_id"])
    invoice = plain(paused.sdk.v1.invoices.retrieve(sub["latest_invoice"]))
    event = event_for("invoice.paid", invoice)
    url, secret = webhook
    first = signed_post(url, event, secret)
    again = signed_post(url, event, secret)
    assert first.json() == {"received": True, "outcome": "processed"}
    assert again.json() == {"received": True, "outcome": "duplicate"}
    record = event_record(db, event["id"])
    assert record is not None
    assert (record["status"], record["published"]) == ("done", True)
    mine = [m for m in topic.for_uid(user.uid) if m["notification_id"].startswith(event["id"])]
    assert len(mine) == 1


@pytest.mark.parametrize(
    "forge",
    ["missing", "wrong_secret", "stale", "tampered_body", "not_a_header"],
)
def test_a_bad_signature_is_400_and_touches_nothing(
    forge: str, user: User, paused: StandIn, db: firestore.Client, webhook: tuple[str, str]
) -> None:
    created = subscribe(user, paused)
    event = event_for(
        "customer.subscription.updated", _sub_object(paused, created["subscription_id"])
    )
    url, secret = webhook
    if forge == "missing":
        response = requests.post(url, json=event, timeout=30)
    elif forge == "wrong_secret":
        response = signed_post(url, event, "whsec_" + "0" * 32)
    elif forge == "stale":
        response = signed_post(url, event, secret, timestamp=int(time.time()) - 301)
    elif forge == "tampered_body":
        header = stripe.WebhookSignature.generate_signature_header(
            "{}", secret, timestamp=int(time.time())
        )
        response = signed_post(url, event, secret, header=header)
    else:
        response = signed_post(url, event, secret, header="sha256=abc")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert event_record(db, event["id"]) is None
    assert entitlement(db, user.uid) is None


def test_an_event_of_the_other_mode_is_acknowledged_and_not_processed(
    user: User, paused: StandIn, db: firestore.Client, webhook: tuple[str, str]
) -> None:
    created = subscribe(user, paused)
    event = event_for(
        "customer.subscription.updated",
        _sub_object(paused, created["subscription_id"]),
        livemode=True,
    )
    response = signed_post(*webhook[:1], event, webhook[1])
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored_other_mode"
    assert event_record(db, event["id"]) is None
    assert entitlement(db, user.uid) is None


def test_unknown_customers_and_irrelevant_types_are_acknowledged(
    db: firestore.Client, webhook: tuple[str, str]
) -> None:
    stranger = event_for(
        "customer.subscription.updated",
        {"id": "sub_nobody", "object": "subscription", "customer": "cus_nobodyknows"},
    )
    response = signed_post(webhook[0], stranger, webhook[1])
    assert (response.status_code, response.json()["outcome"]) == (200, "unknown_customer")
    noise = event_for("charge.refunded", {"id": "ch_1", "object": "charge", "customer": None})
    response = signed_post(webhook[0], noise, webhook[1])
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")
    assert event_record(db, stranger["id"]) is None


def test_a_released_schedule_syncs_its_customer(
    user: User, paused: StandIn, db: firestore.Client, webhook: tuple[str, str]
) -> None:
    """Keeping the plan (or a release in the Dashboard) ends a waiting downgrade: the release
    alone must sync the customer, since Stripe's docs do not promise a subscription event."""
    created = subscribe(user, paused)
    sub = _sub_object(paused, created["subscription_id"])
    released = {
        "id": "sub_sched_released1",
        "object": "subscription_schedule",
        "customer": sub["customer"],
        "status": "released",
        "subscription": None,
        "released_subscription": sub["id"],
    }
    event = event_for("subscription_schedule.released", released)
    response = signed_post(webhook[0], event, webhook[1])
    assert (response.status_code, response.json()["outcome"]) == (200, "processed")
    assert _active(db, user.uid) is not None


def test_a_body_that_is_not_an_event_is_400(webhook: tuple[str, str]) -> None:
    response = signed_post(webhook[0], {"hello": "world"}, webhook[1])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_event"


def test_a_second_signing_secret_is_accepted_while_rolling(
    running_stack: Stack, user: User, paused: StandIn, db: firestore.Client
) -> None:
    created = subscribe(user, paused)
    event = event_for(
        "customer.subscription.updated", _sub_object(paused, created["subscription_id"])
    )
    old = running_stack.function_environ["STRIPE_WEBHOOK_SECRETS"]
    new = "whsec_" + "n" * 32
    with extra_function(
        running_stack, "stripe_webhook", {"STRIPE_WEBHOOK_SECRETS": f"{new},{old}"}
    ) as url:
        assert signed_post(url, event, new).status_code == 200
        other = event_for("customer.subscription.updated", event["data"]["object"])
        assert signed_post(url, other, old).status_code == 200
    assert _active(db, user.uid) is not None


@pytest.mark.parametrize("down", ["FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"])
def test_a_dependency_down_is_5xx_and_redelivery_repairs_it_exactly_once(
    down: str,
    running_stack: Stack,
    user: User,
    paused: StandIn,
    db: firestore.Client,
    topic: Topic,
    webhook: tuple[str, str],
) -> None:
    event = _invoice_paid(user, paused)
    overrides = {down: DEAD, "FIRESTORE_TIMEOUT_SECONDS": "2", "PUBSUB_TIMEOUT_SECONDS": "2"}
    with extra_function(running_stack, "stripe_webhook", overrides) as broken:
        response = signed_post(broken, event, webhook[1])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    record = event_record(db, event["id"])
    assert record is None or record["status"] != "done"
    again = signed_post(webhook[0], event, webhook[1])
    assert again.status_code == 200, again.text
    assert _active(db, user.uid) is not None
    mine = [m for m in topic.for_uid(user.uid) if m["notification_id"].startswith(event["id"])]
    assert len(mine) == 1


def test_stripe_down_is_5xx_and_nothing_is_marked_done(
    user: User, paused: StandIn, faults: StandIn, db: firestore.Client, webhook: tuple[str, str]
) -> None:
    created = subscribe(user, paused)
    event = event_for(
        "customer.subscription.updated", _sub_object(paused, created["subscription_id"])
    )
    faults.fault(method="GET", path_prefix="/v1/subscriptions", kind="error", status=500, times=10)
    response = signed_post(webhook[0], event, webhook[1])
    assert response.status_code == 503
    record = event_record(db, event["id"])
    assert record is not None
    assert record["status"] == "processing"
    faults.clear_faults()
    assert signed_post(webhook[0], event, webhook[1]).json()["outcome"] == "processed"
    assert _active(db, user.uid) is not None


def test_stripe_refusing_a_read_is_503_with_retry_after_and_resumed_on_redelivery(
    user: User, paused: StandIn, faults: StandIn, db: firestore.Client, webhook: tuple[str, str]
) -> None:
    # A 400 on the subscription list is not the sender's fault and not a crash of ours: 503
    # with Retry-After, as the README says, and Stripe's redelivery finishes the event.
    created = subscribe(user, paused)
    event = event_for(
        "customer.subscription.updated", _sub_object(paused, created["subscription_id"])
    )
    faults.fault(method="GET", path_prefix="/v1/subscriptions", kind="error", status=400, times=10)
    response = signed_post(webhook[0], event, webhook[1])
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    record = event_record(db, event["id"])
    assert record is not None
    assert record["status"] == "processing"
    faults.clear_faults()
    assert signed_post(webhook[0], event, webhook[1]).json()["outcome"] == "processed"
    assert _active(db, user.uid) is not None


def test_the_reconcile_job_repairs_a_drifted_entitlement_for_the_scheduler_only(
    running_stack: Stack, user: User, paused: StandIn, db: firestore.Client, tmp_path: Path
) -> None:
    import subprocess
    import sys

    created = subscribe(user, paused)  # webhooks held: nothing but reconcile writes
    user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    assert _active(db, user.uid) is not None
    db.collection("entitlements").document(user.uid).update({"active": False, "features": []})
    info = running_stack.info
    assert info is not None
    assert info.scheduler_email is not None
    url = info.functions["reconcile"]
    # Anyone on the machine, a signed-in user, a token the stack did not sign: refused, and
    # nothing written, even for a full writing run.
    assert info.scheduler_key_file is not None
    key = Path(info.scheduler_key_file).read_bytes()
    new_scheduler_key(tmp_path / "forger.pem")
    forger = (tmp_path / "forger.pem").read_bytes()
    for headers, status in [
        ({}, 401),
        ({"Authorization": f"Bearer {user.token}"}, 401),
        (
            {"Authorization": f"Bearer {mint_scheduler_token(url, info.scheduler_email, forger)}"},
            401,
        ),
        ({"Authorization": f"Bearer {mint_scheduler_token(url, user.email, key)}"}, 403),
    ]:
        refused = requests.post(url, json={"dry_run": False}, headers=headers, timeout=60)
        assert refused.status_code == status, refused.text
        assert entitlement(db, user.uid)["active"] is False  # type: ignore[index]

    def run(*args: str) -> str:
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "devstack", "reconcile", "--state-dir",
             str(running_stack.state_dir), "--uid", user.uid, *args],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    dry = run("--dry-run")
    assert f"{user.uid}: active: False -> True" in dry
    assert "would change 1" in dry
    assert entitlement(db, user.uid)["active"] is False  # type: ignore[index]
    assert "changed 1" in run("--apply")
    assert entitlement(db, user.uid)["active"] is True  # type: ignore[index]
    assert "changed 0" in run("--apply")


def test_make_reconcile_runs_against_the_running_stack_from_its_stack_json(
    running_stack: Stack, user: User, paused: StandIn, db: firestore.Client
) -> None:
    import subprocess

    created = subscribe(user, paused)  # webhooks held: nothing but reconcile writes
    user.ok("retrieve-subscription", {"subscription_id": created["subscription_id"]})
    db.collection("entitlements").document(user.uid).update({"active": False, "features": []})
    # As a developer types it in a fresh shell: no GOOGLE_CLOUD_PROJECT, no emulator hosts.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    result = subprocess.run(  # noqa: S603 - make with our own Makefile
        ["make", "--no-print-directory", "reconcile", f"STATE_DIR={running_stack.state_dir}",  # noqa: S607
         f"ARGS=--dry-run --uid {user.uid}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{user.uid}: active: False -> True" in result.stdout
    assert "would change 1" in result.stdout
    assert entitlement(db, user.uid)["active"] is False  # type: ignore[index]


def test_many_users_paying_at_once_each_end_active(
    api: Any, stack: StackInfo, standin: StandIn, db: firestore.Client
) -> None:
    users = [User(api, stack.project_id) for _ in range(6)]
    threads = [threading.Thread(target=subscribe, args=(u, standin)) for u in users]
    random.shuffle(threads)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for each in users:
        wait_until(partial(_active, db, each.uid), f"{each.uid} to be active")


def test_a_delivery_that_died_after_recording_is_finished_by_the_next_one_exactly_once(
    running_stack: Stack,
    user: User,
    paused: StandIn,
    db: firestore.Client,
    topic: Topic,
    webhook: tuple[str, str],
) -> None:
    event = _invoice_paid(user, paused)
    # A delivery that synced and recorded its notification, then could not publish...
    with extra_function(
        running_stack,
        "stripe_webhook",
        {"PUBSUB_EMULATOR_HOST": DEAD, "PUBSUB_TIMEOUT_SECONDS": "1"},
    ) as broken:
        assert signed_post(broken, event, webhook[1]).status_code == 503
    record = event_record(db, event["id"])
    assert record is not None
    assert (record["synced"], record["published"]) == (True, False)
    # ...and died holding its lease (a crash releases nothing); the lease has since run out.
    db.collection("stripe_events").document(event["id"]).update(
        {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}
    )
    again = signed_post(webhook[0], event, webhook[1])
    assert again.json() == {"received": True, "outcome": "processed"}
    assert signed_post(webhook[0], event, webhook[1]).json()["outcome"] == "duplicate"
    mine = [m for m in topic.for_uid(user.uid) if m["notification_id"].startswith(event["id"])]
    assert len(mine) == 1
    assert mine[0] == record["notification"]  # what was recorded is what went out


@pytest.mark.parametrize(
    "left",
    [
        {"synced": True, "notification": None, "published": False},
        {"synced": True, "notification": {"notification_id": "n-old"}, "published": True},
    ],
    ids=["synced, nothing to tell", "published"],
)
def test_a_record_left_between_steps_by_the_earlier_code_is_finished_not_redone(
    left: dict[str, Any],
    user: User,
    paused: StandIn,
    db: firestore.Client,
    topic: Topic,
    webhook: tuple[str, str],
) -> None:
    # Before the event was marked done in the write of its last step, a delivery could die
    # after that step and before its separate "done" write. After a deploy, the redelivery of
    # such an event must finish it (or Stripe meets a 503 on every try for three days) and
    # must not publish again.
    event = _event_left_in_progress(user, paused, db, timedelta(seconds=-1), left)
    response = signed_post(webhook[0], event, webhook[1])
    assert response.json() == {"received": True, "outcome": "processed"}, response.text
    record = event_record(db, event["id"])
    assert record is not None
    assert (record["status"], record["published"]) == ("done", left["published"])
    assert entitlement(db, user.uid) is None  # the recorded sync was not redone
    assert signed_post(webhook[0], event, webhook[1]).json()["outcome"] == "duplicate"
    assert [m for m in topic.for_uid(user.uid) if m["notification_id"] == "n-old"] == []


def test_a_live_lease_held_by_another_delivery_is_503_not_a_second_effect(
    user: User, paused: StandIn, db: firestore.Client, webhook: tuple[str, str]
) -> None:
    event = _event_left_in_progress(user, paused, db, timedelta(seconds=60))
    response = signed_post(webhook[0], event, webhook[1])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "event_in_progress"
    assert entitlement(db, user.uid) is None  # nothing done beside the delivery that holds it


def test_a_customer_deleted_in_stripe_loses_access_and_is_not_retried_forever(
    user: User, db: firestore.Client, webhook: tuple[str, str]
) -> None:
    # A user whose Stripe customer no longer exists (deleted in the Dashboard), last seen paid.
    ghost = f"cus_gone{user.uid.replace('-', '')}"
    db.collection("billing_customers_by_stripe_id").document(ghost).set({"uid": user.uid})
    db.collection("entitlements").document(user.uid).set(
        {"active": True, "status": "active", "features": ["reports"]}
    )
    event = event_for(
        "customer.subscription.deleted",
        {"id": "sub_gone1", "object": "subscription", "customer": ghost, "status": "canceled"},
    )
    response = signed_post(webhook[0], event, webhook[1])
    assert response.status_code == 200, response.text
    doc = entitlement(db, user.uid)
    assert doc is not None
    assert (doc["active"], doc["status"], doc["features"]) == (False, "none", [])
    record = event_record(db, event["id"])
    assert record is not None
    assert (record["status"], record["notification"]) == ("done", None)


def test_a_late_failure_event_for_a_paid_invoice_sends_nothing(
    user: User, paused: StandIn, topic: Topic, webhook: tuple[str, str]
) -> None:
    paid = _invoice_paid(user, paused)
    late = event_for("invoice.payment_failed", paid["data"]["object"])
    assert signed_post(webhook[0], late, webhook[1]).json()["outcome"] == "processed"
    assert [m for m in topic.for_uid(user.uid) if m["type"] == "payment_failed"] == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda e: e.pop("created"),
        lambda e: e.update(created="yesterday"),
        lambda e: e.update(id="evt_a/b"),
        lambda e: e.update(id="evt_" + "x" * 2000),
        lambda e: e.update(livemode="no"),
        lambda e: e["data"].update(object=[]),
        # data itself not an object: once an AttributeError, answered 500
        lambda e: e.update(data="x"),
        lambda e: e.update(data=None),
        lambda e: e.update(data=[1]),
        lambda e: e.pop("data"),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_400_and_recorded_nowhere(
    break_it: Callable[[dict[str, Any]], object],
    user: User,
    paused: StandIn,
    db: firestore.Client,
    webhook: tuple[str, str],
) -> None:
    event = _invoice_paid(user, paused)
    break_it(event)
    response = signed_post(webhook[0], event, webhook[1])
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_event"
    if isinstance(event.get("id"), str) and "/" not in event["id"] and len(event["id"]) < 1500:
        assert event_record(db, event["id"]) is None
    assert entitlement(db, user.uid) is None


@pytest.mark.parametrize(
    "break_it",
    [
        lambda e: e["data"]["object"].update(customer="cus_a/b"),
        lambda e: e["data"]["object"].update(customer=12),
        lambda e: e["data"]["object"].pop("customer"),
    ],
)
def test_an_event_without_a_usable_customer_is_acknowledged_and_changes_nothing(
    break_it: Callable[[dict[str, Any]], object],
    user: User,
    paused: StandIn,
    db: firestore.Client,
    webhook: tuple[str, str],
) -> None:
    event = _invoice_paid(user, paused)
    break_it(event)
    response = signed_post(webhook[0], event, webhook[1])
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored"), response.text
    assert event_record(db, event["id"]) is None
    assert entitlement(db, user.uid) is None


@pytest.mark.parametrize(
    "break_it",
    [
        lambda e: e["data"]["object"].update(id=12),
        lambda e: e["data"]["object"].update(id="in_x/../../v1/customers"),
        lambda e: e["data"]["object"].pop("id"),
    ],
)
def test_an_unusable_object_id_still_syncs_the_customer_and_tells_them_nothing(
    break_it: Callable[[dict[str, Any]], object],
    user: User,
    paused: StandIn,
    db: firestore.Client,
    topic: Topic,
    webhook: tuple[str, str],
) -> None:
    event = _invoice_paid(user, paused)
    break_it(event)
    response = signed_post(webhook[0], event, webhook[1])
    assert (response.status_code, response.json()["outcome"]) == (200, "processed"), response.text
    record = event_record(db, event["id"])
    assert record is not None
    assert (record["status"], record["notification"]) == ("done", None)
    assert _active(db, user.uid) is not None  # what Stripe says, whatever the payload claimed
    assert [
        m for m in topic.for_uid(user.uid) if m["notification_id"].startswith(event["id"])
    ] == []


def test_an_oversized_body_is_413_before_anything_else(
    stack: StackInfo, webhook: tuple[str, str]
) -> None:
    event = event_for("invoice.paid", {"id": "in_big", "customer": "cus_x", "pad": "x" * 600_000})
    response = signed_post(webhook[0], event, webhook[1])
    assert response.status_code == 413


def test_two_deliveries_cannot_both_take_over_an_abandoned_claim(
    db: firestore.Client, settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both read the abandoned record before either writes: the takeover is conditional on the
    # record being as read (its update_time), so only the first write lands; the second
    # delivery finds a live lease and answers "in progress" instead of running beside it.
    from billing.entitlements import events

    event = {"id": f"evt_takeover{random.randrange(10**12)}", "type": "invoice.paid"}
    db.collection(events.EVENTS).document(event["id"]).set(
        {
            "type": event["type"], "uid": "u", "status": "processing", "owner": "crashed",
            "lease_until": datetime.now(UTC) - timedelta(seconds=1), "synced": False,
            "notification": None, "published": False,
        }
    )  # fmt: skip

    def inbox() -> events.Inbox:
        rt = Runtime(settings, firestore_client=db)
        return events.Inbox(Context(runtime=rt, request_id="takeover"))

    first, second = inbox(), inbox()
    claims: list[events.Claim | None] = []
    from core.firestore import get_document as real_get  # the inbox's read (one GetDocument)

    interleaved = threading.Event()

    def get_then_let_the_other_take_over(read: Any, **kw: Any) -> Any:
        snapshot = real_get(read, **kw)
        if read.id == event["id"] and not interleaved.is_set():
            interleaved.set()
            claims.append(first.claim(event, "u"))  # reads and takes over meanwhile
        return snapshot

    monkeypatch.setattr(events, "get_document", get_then_let_the_other_take_over)
    monkeypatch.setattr(events, "WAIT_FOR_OWNER_S", 1.0)
    with pytest.raises(events.InProgress):
        second.claim(event, "u")
    [taken] = claims
    assert taken is not None
    stored = db.collection(events.EVENTS).document(event["id"]).get().to_dict()
    assert stored is not None
    assert stored["owner"] == taken.data["owner"] != "crashed"


def test_a_thin_event_destination_keeps_entitlements_and_mails_right(
    user: User, standin: StandIn, db: firestore.Client, topic: Topic
) -> None:
    """Issue 15, point 16: an event destination with thin payloads (no data.object, only a
    related_object) is synced and mailed from the objects fetched, not answered 400."""
    standin.post("/_standin/config", {"webhook_payload": "thin"})
    try:
        created = subscribe(user, standin)
        doc = wait_until(lambda: _active(db, user.uid), "the entitlement to turn active")
        assert doc["subscription_id"] == created["subscription_id"]
        receipts = wait_until(
            lambda: [m for m in topic.for_uid(user.uid) if m["type"] == "payment_succeeded"],
            "the receipt",
        )
        assert len(receipts) == 1
    finally:
        standin.post("/_standin/config", {"webhook_payload": "snapshot"})


@pytest.mark.parametrize(
    "break_it",
    [
        lambda e: e.update(created=1700000000),  # thin events carry an RFC 3339 string
        lambda e: e.update(related_object="sub_1"),
        lambda e: e.update(id="evt a"),
    ],
)
def test_a_malformed_thin_event_is_400(
    break_it: Callable[[dict[str, Any]], object], webhook: tuple[str, str]
) -> None:
    thin = {
        "id": "evt_thin1",
        "object": "v2.core.event",
        "type": "v1.customer.subscription.updated",
        "created": "2026-12-07T00:00:00.000Z",
        "livemode": False,
        "related_object": {"id": "sub_1", "type": "subscription", "url": "/v1/subscriptions/sub_1"},
    }
    break_it(thin)
    response = signed_post(webhook[0], thin, webhook[1])
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_event"


def test_a_thin_event_naming_no_object_is_acknowledged(webhook: tuple[str, str]) -> None:
    """An entitlement summary's thin event has no related_object: nothing names whom to sync
    (the subscription events around it do)."""
    thin = {
        "id": "evt_thinsummary",
        "object": "v2.core.event",
        "type": "v1.entitlements.active_entitlement_summary.updated",
        "created": "2026-12-07T00:00:00.000Z",
        "livemode": False,
    }
    response = signed_post(webhook[0], thin, webhook[1])
    assert response.status_code == 200, response.text
