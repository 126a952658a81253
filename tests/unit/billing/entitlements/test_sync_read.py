"""The entitlement read pages through Stripe's lists (issue 15, point 15): a customer with more
than 100 active features, or subscriptions, keeps every one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from billing.config import BillingSettings
from billing.context import Context
from billing.entitlements.sync import read
from billing.runtime import Runtime
from devstack.stripe_standin import StandinConfig
from devstack.stripe_standin.options import DEFAULT_CATALOG
from tests.standin.conftest import StandinServer, serving

KEYS = [f"feature_{n:03d}" for n in range(130)]


@pytest.fixture(scope="module")
def own_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinServer]:
    """A stand-in of this module's own whose Pro product has 130 more features (seeded: 260
    API calls would take seconds)."""
    catalog = json.loads(DEFAULT_CATALOG.read_text())
    catalog["features"] |= {key: {"name": key} for key in KEYS}
    catalog["products"]["pro"]["features"] += KEYS
    path = tmp_path_factory.mktemp("catalog") / "catalog.json"
    path.write_text(json.dumps(catalog))
    with serving(StandinConfig(catalog_path=path), "standin-paging") as server:
        yield server


def test_more_than_a_page_of_features_all_reach_the_entitlement(
    own_standin: StandinServer, settings: BillingSettings
) -> None:
    client = own_standin.client()
    customer = client.v1.customers.create(
        {
            "email": "many@example.com",
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": "price_pro_monthly"}]}
    )
    listed = client.v1.entitlements.active_entitlements.list(
        {"customer": customer.id, "limit": 100}
    )
    assert listed.has_more  # the first page alone would drop some

    ctx = Context(runtime=Runtime(settings, stripe_client=client), request_id="paging")
    entitlement = read(ctx, "many", customer.id)
    assert entitlement.active
    assert set(KEYS) <= set(entitlement.features)
    assert len(entitlement.features) == len(set(entitlement.features)) >= 130
