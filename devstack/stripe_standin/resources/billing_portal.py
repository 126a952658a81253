"""Billing portal sessions: create one for a customer under a saved portal configuration.

Stripe refuses a portal session until the account has a saved portal configuration: a fresh
account has none, and ``POST /v1/billing_portal/sessions`` without ``configuration`` answers
400 "You can't create a portal session in test mode until you save your customer portal
settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal." (quoted
from Stripe's answer in https://github.com/mozilla/fxa/issues/13245 and
https://github.com/scosman/CMSaasStarter/issues/55). Saving the Dashboard's settings makes the
default configuration (``is_default``); a configuration created through the API, as
Terraform's ``stripe_billing_portal_configuration`` does (infra/stripe.tf), is not the default
and is used only when a session names it in ``configuration``
(https://docs.stripe.com/api/customer_portal/configurations/object, ``is_default``). A named
configuration that does not exist is "No such configuration"; an inactive one cannot create
sessions (``active``: "Whether the configuration is active and can be used to create portal
sessions").

The stand-in saves the configuration Terraform would make from the catalog when it starts
(``StandinConfig.portal_configuration``, seeding.py), and ``DELETE
/_standin/billing_portal/configurations`` forgets every saved one, as on a fresh account. The
portal's pages, which do what the configuration allows, are in portal_pages.py.
"""

from __future__ import annotations

from typing import Any

from stripe.params.billing_portal import SessionCreateParams

from devstack.stripe_standin import ids
from devstack.stripe_standin.api_errors import invalid_request, parameter_missing, resource_missing
from devstack.stripe_standin.resources.common import get_param_object
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.state import State
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

_IMPLEMENTED = frozenset({"customer", "return_url", "configuration", "expand"})
NOT_SAVED = (
    "You can\u2019t create a portal session in test mode until you save your customer portal "
    "settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal."
)


def configuration_for(state: State, requested: Any) -> JSONDict:
    """The configuration a session uses: the named one, else the account's default."""
    saved = state.data.portal_configurations
    if requested is None:
        for configuration in saved.values():
            if configuration["is_default"]:
                return configuration
        raise invalid_request(NOT_SAVED)
    named = saved.get(str(requested))
    if named is None:
        raise resource_missing("configuration", str(requested), param="configuration")
    if not named["active"]:
        raise invalid_request(
            "The configuration is inactive; activate it to create portal sessions with it.",
            param="configuration",
        )
    return named


def create(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    unknown = sorted(set(params) - _IMPLEMENTED)
    if unknown:
        raise invalid_request(
            f"The Stripe stand-in does not implement {unknown[0]} on portal sessions.",
            param=unknown[0],
        )
    if "customer" not in params:
        raise parameter_missing("customer")
    customer = get_param_object(ctx.state, "customers", "customer", params["customer"], "customer")
    configuration = configuration_for(ctx.state, params.get("configuration"))
    session_id = ids.new_id("bps")
    session = {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": configuration["id"],
        "created": ctx.state.now(),
        "customer": customer["id"],
        "customer_account": None,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": params.get("return_url") or configuration["default_return_url"],
        "url": f"{ctx.base_url}/_standin/billing_portal/sessions/{session_id}",
    }
    ctx.state.data.portal_sessions[session_id] = session
    return ctx.render(session, params)


ROUTES = [
    route(
        "POST",
        "/v1/billing_portal/sessions",
        create,
        SessionCreateParams,
        Supports(*_IMPLEMENTED),
    )
]
