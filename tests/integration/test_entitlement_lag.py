"""Issue 15, point 12: Stripe's active entitlements may lag the payment that grants them.
Until Stripe's summary arrives, the document must not say "active, with no features"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.cloud import firestore

from tests.support.billing_flows import PRICE, subscribe
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import wait_for_entitlement

pytestmark = pytest.mark.integration


@pytest.fixture
def lagging(standin: StandIn) -> Iterator[None]:
    standin.post("/_standin/entitlements/lag", {"on": True})
    try:
        yield
    finally:
        standin.post("/_standin/entitlements/lag", {"on": False})


@pytest.mark.usefixtures("lagging")
def test_a_paid_plan_shows_its_features_while_stripes_entitlements_lag(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    sub_id = subscribe(user, standin)["subscription_id"]
    customer = user.customer()
    listed = standin.sdk.v1.entitlements.active_entitlements.list(params={"customer": customer})
    assert listed.data == []  # Stripe has not derived them yet
    view = user.ok("retrieve-subscription", {"subscription_id": sub_id})
    assert view["status"] == "active"
    doc = wait_for_entitlement(db, user.uid, price_id=PRICE, active=True)
    # The plan's features as the catalog attaches them to its product, not an empty list.
    assert "reports" in doc["features"]
    standin.post("/_standin/entitlements/lag", {"on": False})  # Stripe's summary arrives
    listed = standin.sdk.v1.entitlements.active_entitlements.list(params={"customer": customer})
    assert "reports" in [e.lookup_key for e in listed.data]
    assert "reports" in wait_for_entitlement(db, user.uid, active=True)["features"]
