"""Billing portal sessions need a saved portal configuration, as on Stripe: the stand-in saves
the catalog's (as Terraform does) and can start without one (a fresh account)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from devstack.stripe_standin.resources.billing_portal import NOT_SAVED
from devstack.stripe_standin.seeding import PORTAL_CONFIGURATION
from tests.standin.conftest import StandinServer


def _portal(client: stripe.StripeClient, customer: str) -> str:
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer,
            "configuration": PORTAL_CONFIGURATION,
            "return_url": "http://localhost:3000/account",
        }
    )
    return session.url


@pytest.fixture
def configuration(standin_server: StandinServer) -> Iterator[dict[str, Any]]:
    """The saved configuration, to change in a test; saved afresh afterwards."""
    state = standin_server.standin.state
    with state.lock:
        saved: dict[str, Any] = state.data.portal_configurations[PORTAL_CONFIGURATION]
    yield saved
    standin_server.control("POST", "/_standin/billing_portal/configurations")


# --- sessions need saved settings -------------------------------------------------------------


def test_a_session_needs_a_saved_configuration_as_on_a_fresh_stripe_account(
    client: stripe.StripeClient, email: str, standin_server: StandinServer
) -> None:
    customer = client.v1.customers.create({"email": email})
    # The Terraform-made configuration is not the account's default: a session that names
    # none is refused, as on an account whose portal settings were never saved.
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create({"customer": customer.id})
    assert caught.value.http_status == 400
    assert caught.value.user_message == NOT_SAVED
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.billing_portal.sessions.create(
            {"customer": customer.id, "configuration": "bpc_nothing"}
        )
    assert (missing.value.code, missing.value.param) == ("resource_missing", "configuration")

    standin_server.control("DELETE", "/_standin/billing_portal/configurations")
    try:
        with pytest.raises(stripe.InvalidRequestError) as fresh:
            _portal(client, customer.id)
        assert fresh.value.param == "configuration"
    finally:
        saved = standin_server.control("POST", "/_standin/billing_portal/configurations")
    assert saved["id"] == PORTAL_CONFIGURATION
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": customer.id,
            "configuration": PORTAL_CONFIGURATION,
            "expand": ["configuration"],
        }
    )
    assert isinstance(session.configuration, stripe.billing_portal.Configuration)
    assert session.configuration.is_default is False


def test_the_saved_configuration_is_the_catalogs_portal_section(
    standin_server: StandinServer,
) -> None:
    from billing.catalog import load

    portal = load().portal
    saved = standin_server.standin.state.data.portal_configurations[PORTAL_CONFIGURATION]
    update = saved["features"]["subscription_update"]
    assert [p for entry in update["products"] for p in entry["prices"]] == [
        f"price_{key}" for key in portal.plan_switches
    ]
    assert update["proration_behavior"] == portal.proration_behavior
    assert saved["features"]["subscription_cancel"]["mode"] == portal.cancel_mode


def test_an_inactive_configuration_creates_no_session(
    client: stripe.StripeClient, email: str, configuration: dict[str, Any]
) -> None:
    customer = client.v1.customers.create({"email": email})
    configuration["active"] = False
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _portal(client, customer.id)
    assert caught.value.param == "configuration"


def test_the_stand_in_can_start_as_a_fresh_account_without_one() -> None:
    from devstack.stripe_standin import Standin, StandinConfig
    from devstack.stripe_standin.__main__ import _parse

    assert _parse(["--no-portal-configuration"]).portal_configuration is False
    assert _parse([]).portal_configuration is True
    fresh = Standin(StandinConfig(portal_configuration=False))
    try:
        assert fresh.state.data.portal_configurations == {}
        fresh.reset()  # a reset keeps it fresh: the setting, not the state, decides
        assert fresh.state.data.portal_configurations == {}
    finally:
        fresh.close()
    seeded = Standin(StandinConfig())
    try:
        assert list(seeded.state.data.portal_configurations) == [PORTAL_CONFIGURATION]
    finally:
        seeded.close()
