"""Billing portal sessions: create one for a customer (the portal's pages are not served)."""

from __future__ import annotations

from typing import Any

from stripe.params.billing_portal import SessionCreateParams

from devstack.stripe_standin import ids
from devstack.stripe_standin.api_errors import invalid_request, parameter_missing, resource_missing
from devstack.stripe_standin.resources.common import get_param_object
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

# The account's default portal configuration (Stripe makes one when the portal is first set up),
# and the one a deployment's Terraform makes from the catalog (infra/stripe.tf), which the
# functions name in ``configuration`` (PORTAL_CONFIGURATION_ID; the local stack sets this one).
# Stripe refuses a configuration id it does not know ("No such configuration").
DEFAULT_CONFIGURATION = "bpc_standin_default"
CATALOG_CONFIGURATION = "bpc_catalog"
_CONFIGURATIONS = frozenset({DEFAULT_CONFIGURATION, CATALOG_CONFIGURATION})
_IMPLEMENTED = frozenset({"customer", "return_url", "configuration", "expand"})


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
    configuration = params.get("configuration", DEFAULT_CONFIGURATION)
    if configuration not in _CONFIGURATIONS:
        raise resource_missing("configuration", str(configuration), param="configuration")
    session_id = ids.new_id("bps")
    session = {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": configuration,
        "created": ctx.state.now(),
        "customer": customer["id"],
        "customer_account": None,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": params.get("return_url"),
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
