"""The metering function in the local stack: usage published to the usage topic ends in the
Stripe stand-in's meter summary exactly once, whatever is duplicated, redelivered or killed."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from google.cloud import firestore

from billing.state.customers import CustomerStore
from billing.state.metered_usage import COLLECTION, FirestoreLedger
from billing.usage.contract import UsageMessage
from billing.usage.metering import Metering, Outcome
from billing_usage import UsageReporter
from core.pubsub_push import Redeliver
from devstack.stack import StackInfo
from tests.support.stack import wait_for
from tests.support.stack_fixtures import StandIn, User

pytestmark = pytest.mark.integration


def _meter(standin: StandIn) -> stripe.billing.Meter:
    return standin.sdk.v1.billing.meters.create(
        {
            "display_name": "API calls",
            "event_name": f"calls_{uuid.uuid4().hex[:12]}",
            "default_aggregation": {"formula": "sum"},
        }
    )


def _summary(standin: StandIn, meter: stripe.billing.Meter, customer: str) -> float:
    now = int(time.time())
    start, end = now - now % 60 - 86400, now - now % 60 + 86400
    found = standin.sdk.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer, "start_time": start, "end_time": end}
    )
    return float(found.data[0].aggregated_value)


@pytest.fixture(scope="module")
def reporter(stack: StackInfo) -> Iterator[UsageReporter]:  # the helper teams install
    from google.cloud import pubsub_v1

    os.environ["PUBSUB_EMULATOR_HOST"] = stack.pubsub_emulator_host
    publisher = pubsub_v1.PublisherClient()
    assert stack.usage_topic is not None
    yield UsageReporter(publisher, f"projects/{stack.project_id}/topics/{stack.usage_topic}")
    publisher.stop()


def _ledger(db: firestore.Client, ids: list[str]) -> dict[str, str]:
    refs = [db.collection(COLLECTION).document(i) for i in ids]
    return {s.id: (s.to_dict() or {}).get("status", "") for s in db.get_all(refs) if s.exists}


def test_usage_with_duplicates_ends_as_exactly_the_unique_sum_in_stripe(
    user: User, standin: StandIn, reporter: UsageReporter, db: firestore.Client
) -> None:
    customer = user.customer()
    meter = _meter(standin)
    unique = [(f"u-{uuid.uuid4().hex[:16]}", 1 + n % 7) for n in range(150)]
    futures = [
        reporter.publish(reporter.build(id=uid, subject=user.uid, meter=meter.event_name, value=v))
        for uid, v in unique + unique[::3]  # every third usage published twice
    ]
    for future in futures:
        future.result(timeout=30)
    ids = [uid for uid, _ in unique]
    wait_for(
        lambda: list(_ledger(db, ids).values()).count("recorded") == len(ids) or None,
        timeout=120,
        what="every usage recorded",
    )
    assert _summary(standin, meter, customer) == sum(v for _, v in unique)


@pytest.fixture
def metering(stack: StackInfo, db: firestore.Client) -> Metering:
    assert stack.stripe.api_base is not None
    client = stripe.StripeClient(
        "sk_test_integration", base_addresses={"api": stack.stripe.api_base}
    )
    ledger = FirestoreLedger(db, lease=timedelta(seconds=60), keep=timedelta(days=40), timeout=10)
    return Metering(ledger, CustomerStore(db, timeout=10), client)


def _push(usage: dict[str, Any]) -> dict[str, Any]:
    import base64
    import json

    data = base64.b64encode(json.dumps({"version": 1, **usage}).encode()).decode()
    return {"message": {"messageId": uuid.uuid4().hex, "data": data, "attributes": {}}}


def _usage(user: User, meter: stripe.billing.Meter | str, value: int = 3) -> dict[str, Any]:
    return {
        "id": f"u-{uuid.uuid4().hex[:16]}",
        "subject": user.uid,
        "meter": meter if isinstance(meter, str) else meter.event_name,
        "value": value,
        "timestamp": int(time.time()),
    }


def test_a_delivery_killed_after_stripe_took_the_event_is_not_counted_twice(
    user: User, standin: StandIn, metering: Metering
) -> None:
    customer = user.customer()
    meter = _meter(standin)
    usage = _usage(user, meter, value=5)
    message = UsageMessage.model_validate({"version": 1, **usage})
    # What a killed delivery leaves: its claim (recording, lease running), the event in Stripe.
    claim = metering.ledger.claim(message.id, message.digest(), datetime.now(UTC), {})
    metering._send(message, customer, claim)
    with pytest.raises(Redeliver):  # the lease still runs: the redelivery waits
        metering.handle(_push(usage))
    later = Metering(
        metering.ledger,
        metering.customers,
        metering.stripe,
        clock=lambda: datetime.now(UTC) + timedelta(minutes=5),
    )
    assert later.handle(_push(usage)) is Outcome.RECORDED
    assert later.handle(_push(usage)) is Outcome.ALREADY_DONE
    assert _summary(standin, meter, customer) == 5


def test_usage_of_a_subject_without_a_stripe_customer_is_held_not_sent(
    user: User, standin: StandIn, metering: Metering, db: firestore.Client
) -> None:
    meter = _meter(standin)
    usage = _usage(user, meter)
    assert metering.handle(_push(usage)) is Outcome.HELD
    held = db.collection(COLLECTION).document(usage["id"]).get().to_dict() or {}
    assert (held["status"], held["reason"], held["value"]) == ("held", "no_customer", 3)
    customer = user.customer()  # subscribing later: usage from now on is billed, not before
    assert metering.handle(_push(_usage(user, meter, value=4))) is Outcome.RECORDED
    assert metering.handle(_push(usage)) is Outcome.ALREADY_DONE
    assert _summary(standin, meter, customer) == 4


def test_an_id_reported_again_with_other_contents_is_refused(
    user: User, standin: StandIn, metering: Metering
) -> None:
    customer = user.customer()
    meter = _meter(standin)
    usage = _usage(user, meter, value=2)
    assert metering.handle(_push(usage)) is Outcome.RECORDED
    assert metering.handle(_push(usage | {"value": 9})) is Outcome.REFUSED
    assert _summary(standin, meter, customer) == 2


def test_a_meter_stripe_does_not_know_is_refused_and_kept_in_the_ledger(
    user: User, metering: Metering, db: firestore.Client
) -> None:
    user.customer()
    usage = _usage(user, "no_such_meter")
    assert metering.handle(_push(usage)) is Outcome.REFUSED
    refused = db.collection(COLLECTION).document(usage["id"]).get().to_dict() or {}
    assert (refused["status"], refused["reason"]) == ("refused", "stripe_refused")


def test_stripe_failing_means_a_retry_and_the_retry_records_it_once(
    user: User, faults: StandIn, metering: Metering
) -> None:
    customer = user.customer()
    meter = _meter(faults)
    usage = _usage(user, meter, value=4)
    faults.fault(method="POST", path_prefix="/v1/billing/meter_events", kind="error", status=500)
    with pytest.raises(Redeliver):
        metering.handle(_push(usage))
    faults.clear_faults()
    assert metering.handle(_push(usage)) is Outcome.RECORDED
    assert _summary(faults, meter, customer) == 4


def test_malformed_usage_is_refused_without_a_retry(metering: Metering) -> None:
    bad = _push({"id": "x", "subject": "s", "meter": "m", "value": 0, "timestamp": 1})
    assert metering.handle(bad) is Outcome.REFUSED


def test_reconcile_reports_drift_between_quota_counts_and_stripes_summary(
    user: User, standin: StandIn, metering: Metering, db: firestore.Client, stack: StackInfo
) -> None:
    from billing.config import BillingSettings
    from billing.context import Context
    from billing.operations.reconcile import ReconcileSummary, with_usage_drift
    from billing.runtime import Runtime
    from billing_usage import Limit, Quotas

    customer = user.customer()
    meter = _meter(standin)
    quotas = Quotas(db, free_plan={meter.event_name: Limit(included=100, overage=False)})
    assert quotas.consume(user.uid, meter.event_name, 5, "first").allowed
    reported = _usage(user, meter, value=3)
    assert metering.handle(_push(reported)) is Outcome.RECORDED
    ctx = Context(
        runtime=Runtime(
            # The Stripe client is handed in: the key is never used.
            BillingSettings.load(
                {}, google_cloud_project=stack.project_id, stripe_secret_key="sk_test_" + "unused"
            ),
            firestore_client=db,
            stripe_client=metering.stripe,
        ),
        request_id="drift-test",
    )
    empty = ReconcileSummary(dry_run=True, checked=1, changed=0, failed=0, changes=[])
    drifted = with_usage_drift(ctx, empty, [(user.uid, customer)]).usage_drift
    assert [(d.uid, d.meter, d.counted, d.in_stripe) for d in drifted] == [
        (user.uid, meter.event_name, 5, 3.0)
    ]
    assert metering.handle(_push(_usage(user, meter, value=2))) is Outcome.RECORDED
    assert with_usage_drift(ctx, empty, [(user.uid, customer)]).usage_drift == []
