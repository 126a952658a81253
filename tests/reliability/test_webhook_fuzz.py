"""Hypothesis fuzz of validly signed webhook deliveries: garbage never reaches state.

A signature only proves the body came from whoever holds the signing secret; what the body
says may still be of another API version, about a customer this app never saw, or plain
odd. Generated events (any type, objects with random extra fields, customers that are unknown,
malformed or absent) must be answered 2xx or 400 (never 5xx: nothing is injected here), and
must leave no trace: no ``stripe_events`` record, no entitlement. Events about a known
customer carrying garbage fields may sync that customer (the design re-reads Stripe), but the
entitlement then says exactly what Stripe says, whatever the payload claimed.
"""

from __future__ import annotations

import string
import uuid
from typing import Any

import pytest
from google.cloud import firestore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.entitlements.events import RELEVANT
from devstack.stack import StackInfo
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import entitlement, event_record, signed_post

ALNUM = string.ascii_letters + string.digits
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

garbage = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
event_types = (
    st.sampled_from(sorted(RELEVANT))
    | st.sampled_from(["charge.succeeded", "customer.created", "invoice.created", "payout.paid"])
    | st.text(min_size=1, max_size=40)
)
unknown_customer = st.text(ALNUM, min_size=6, max_size=14).map(lambda s: f"cus_fuzz{s}")
event_ids = st.text(ALNUM, min_size=10, max_size=24).map(lambda s: f"evt_fuzz{s}")


def _object(customer: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    required = st.fixed_dictionaries({"object": st.sampled_from(["subscription", "invoice"])})
    optional = st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(ALNUM, min_size=1, max_size=20).map(lambda s: f"sub_{s}") | garbage,
            "customer": customer,
            "status": st.sampled_from(["active", "canceled", "bogus"]) | garbage,
        },
    )
    extra = st.dictionaries(st.text("xyz_", min_size=3, max_size=10), garbage, max_size=3)
    return st.tuples(required, optional, extra).map(lambda t: {**t[2], **t[1], **t[0]})


def _event(event_id: str, event_type: str, obj: dict[str, Any], livemode: bool) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1_800_000_000,
        "data": {"object": obj},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


@pytest.fixture(scope="module")
def webhook(stack: StackInfo) -> tuple[str, str]:
    assert stack.stripe.webhook_url is not None
    assert stack.stripe.webhook_secret is not None
    return stack.stripe.webhook_url, stack.stripe.webhook_secret


@FUZZ
@given(
    event_id=event_ids,
    event_type=event_types,
    obj=_object(unknown_customer | st.builds(lambda c: {"id": c}, unknown_customer) | garbage),
    livemode=st.booleans(),
)
def test_events_about_strangers_are_acknowledged_and_change_nothing(
    webhook: tuple[str, str],
    db: firestore.Client,
    event_id: str,
    event_type: str,
    obj: dict[str, Any],
    livemode: bool,
) -> None:
    url, secret = webhook
    response = signed_post(url, _event(event_id, event_type, obj, livemode), secret)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] in {"ignored", "unknown_customer", "ignored_other_mode"}
    assert event_record(db, event_id) is None
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if isinstance(customer, str) and customer.startswith("cus_"):
        query = db.collection("entitlements").where(
            filter=firestore.FieldFilter("customer_id", "==", customer)
        )
        assert list(query.stream()) == []


@pytest.fixture(scope="module")
def subscriber(api: Any, stack: StackInfo, standin: StandIn) -> tuple[User, str, str]:
    user = User(api, stack.project_id)
    customer = user.customer()
    sub = user.ok("create-subscription", {"price_id": "price_basic_monthly"})
    standin.sdk.v1.payment_intents.confirm(
        sub["client_secret"].split("_secret_")[0], params={"payment_method": "pm_card_visa"}
    )
    return user, customer, sub["subscription_id"]


@FUZZ
@given(
    event_id=event_ids,
    event_type=st.sampled_from(sorted(RELEVANT)),
    obj=_object(st.just("")),
)
def test_garbage_about_a_known_customer_never_overrides_stripe(
    webhook: tuple[str, str],
    db: firestore.Client,
    standin: StandIn,
    subscriber: tuple[User, str, str],
    event_id: str,
    event_type: str,
    obj: dict[str, Any],
) -> None:
    user, customer, subscription_id = subscriber
    obj["customer"] = customer
    url, secret = webhook
    response = signed_post(url, _event(event_id, event_type, obj, False), secret)
    assert response.status_code == 200, response.text
    # Hypothesis replays ids while it shrinks: a replayed id is a redelivery.
    assert response.json()["outcome"] in {"processed", "gone", "duplicate"}
    record = event_record(db, event_id)
    assert record is not None
    assert record["status"] == "done"
    state = entitlement(db, user.uid)
    assert state is not None
    truth = standin.sdk.v1.subscriptions.retrieve(subscription_id)
    assert (state["subscription_id"], state["status"], state["active"]) == (
        subscription_id,
        truth.status,
        truth.status == "active",
    )


def test_a_redelivered_garbage_event_is_still_a_duplicate(
    webhook: tuple[str, str], db: firestore.Client, subscriber: tuple[User, str, str]
) -> None:
    _, customer, _ = subscriber
    url, secret = webhook
    obj = {"object": "invoice", "customer": customer, "id": 42}
    event = _event(f"evt_fuzzdup{uuid.uuid4().hex[:12]}", "invoice.paid", obj, False)
    first = signed_post(url, event, secret)
    again = signed_post(url, event, secret)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert (first.json()["outcome"], again.json()["outcome"]) == ("processed", "duplicate")
    record = event_record(db, event["id"])
    assert record is not None
    assert record["notification"] is None
