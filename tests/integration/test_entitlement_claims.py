"""The entitlement in the ID token: the webhook writes the ``billing`` custom claim on the
Firebase user (the stack's Auth emulator), beside the app's own claims, cleared when access
ends, and always from the newest entitlement document."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import firestore

from billing.entitlements.id_token import claim_of
from devstack.stack import Stack, StackInfo
from tests.support.auth_emulator import AuthEmulator
from tests.support.billing_flows import OTHER_PRICE, subscribe
from tests.support.stack_fixtures import Api, EmulatorUser, StandIn, extra_function
from tests.support.webhooks import (
    entitlement,
    event_for,
    event_record,
    plain,
    signed_post,
    wait_for_entitlement,
    wait_until,
)

DEAD = "127.0.0.1:9"  # nothing listens on the discard port


def _plain(claim: dict[str, Any] | None) -> dict[str, Any] | None:
    """A claim without its ``version``: the webhook rewrites a claim only when what a token
    reader sees changes, so an unchanged plan keeps the version it was first written at."""
    return None if claim is None else {k: v for k, v in claim.items() if k != "version"}


@pytest.fixture
def webhook(stack: StackInfo) -> tuple[str, str]:
    assert stack.stripe.webhook_url is not None
    assert stack.stripe.webhook_secret is not None
    return stack.stripe.webhook_url, stack.stripe.webhook_secret


@pytest.fixture
def customer(api: Api, auth: AuthEmulator) -> EmulatorUser:
    return EmulatorUser(api, auth)


def _claim(auth: AuthEmulator, uid: str) -> dict[str, Any] | None:
    billing: dict[str, Any] | None = auth.custom_claims(uid).get("billing")
    return billing


def _drained(standin: StandIn) -> bool:
    status = standin.webhooks()
    return not status["paused"] and status["queued"] == 0 and status["in_flight"] == 0


def test_payment_puts_the_plan_in_the_token_beside_the_apps_own_claims(
    customer: EmulatorUser, auth: AuthEmulator, standin: StandIn, db: firestore.Client
) -> None:
    auth.set_custom_claims(customer.uid, {"role": "editor"})
    subscribe(customer, standin)
    doc = wait_for_entitlement(db, customer.uid, active=True)
    claim = wait_until(lambda: _claim(auth, customer.uid), "the billing claim")
    assert _plain(claim) == _plain(claim_of(doc))
    assert claim["plan"] == doc["product_id"]
    assert claim["features"] == doc["features"]
    assert claim["valid_until"] == doc["valid_until"]
    token = customer.refresh()
    assert token["billing"] == claim
    assert token["role"] == "editor"


def test_the_claim_is_cleared_when_access_ends(
    customer: EmulatorUser, auth: AuthEmulator, standin: StandIn, db: firestore.Client
) -> None:
    auth.set_custom_claims(customer.uid, {"role": "editor"})
    created = subscribe(customer, standin)
    wait_until(lambda: _claim(auth, customer.uid), "the billing claim")
    standin.sdk.v1.subscriptions.cancel(created["subscription_id"])
    wait_for_entitlement(db, customer.uid, active=False)
    wait_until(
        lambda: "billing" not in auth.custom_claims(customer.uid) or None, "the claim cleared"
    )
    assert customer.refresh()["role"] == "editor"
    assert "billing" not in customer.refresh()


@pytest.mark.parametrize("order", ["reverse", "shuffle"])
def test_the_claim_ends_at_the_newest_state_in_any_arrival_order(
    order: str, customer: EmulatorUser, auth: AuthEmulator, paused: StandIn, db: firestore.Client
) -> None:
    created = subscribe(customer, paused)
    changed = customer.ok(
        "change-plan", {"subscription_id": created["subscription_id"], "price_id": OTHER_PRICE}
    )
    assert changed["subscription"]["price"]["id"] == OTHER_PRICE
    paused.post("/_standin/webhooks/resume", {"order": order})
    wait_until(lambda: _drained(paused) or None, "every held delivery to land")
    doc = wait_for_entitlement(db, customer.uid, active=True, price_id=OTHER_PRICE)
    assert _plain(_claim(auth, customer.uid)) == _plain(claim_of(doc))
    assert customer.refresh()["billing"]["price"] == OTHER_PRICE


def test_auth_unreachable_is_5xx_and_redelivery_writes_the_claim(
    running_stack: Stack,
    customer: EmulatorUser,
    auth: AuthEmulator,
    paused: StandIn,
    db: firestore.Client,
    webhook: tuple[str, str],
) -> None:
    created = subscribe(customer, paused)
    sub = plain(paused.sdk.v1.subscriptions.retrieve(created["subscription_id"]))
    event = event_for("customer.subscription.updated", sub)
    overrides = {"FIREBASE_AUTH_EMULATOR_HOST": DEAD, "AUTH_TIMEOUT_SECONDS": "2"}
    with extra_function(running_stack, "stripe_webhook", overrides) as broken:
        response = signed_post(broken, event, webhook[1])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    record = event_record(db, event["id"])
    assert record is not None
    assert not record["synced"], "the event is not recorded as synced"
    assert _claim(auth, customer.uid) is None
    again = signed_post(webhook[0], event, webhook[1])
    assert again.status_code == 200, again.text
    doc = entitlement(db, customer.uid)
    assert doc is not None
    assert _plain(_claim(auth, customer.uid)) == _plain(claim_of(doc))
