"""PaymentMethods: retrieve, attach, detach (``pm_card_*`` test ids create fresh ones)."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    PaymentMethodAttachParams,
    PaymentMethodDetachParams,
    PaymentMethodRetrieveParams,
)

from devstack.stripe_standin import billing
from devstack.stripe_standin.cards import TEST_CARDS
from devstack.stripe_standin.errors import (
    invalid_request,
    parameter_missing,
    resource_missing,
)
from devstack.stripe_standin.resources.common import get_param_object
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.store import snapshot

JSONDict = dict[str, Any]


def _path_payment_method(ctx: ApiContext, pm_id: str) -> JSONDict:
    if pm_id not in TEST_CARDS and pm_id not in ctx.state.data.payment_methods:
        raise resource_missing("payment_method", pm_id, param="payment_method", status=404)
    return billing.resolve_payment_method(
        ctx.state, pm_id, ctx.test_card_ids, param="payment_method"
    )


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(_path_payment_method(ctx, path["payment_method"]), params)


def attach(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    if "customer" not in params:
        raise parameter_missing("customer")
    customer = get_param_object(state, "customers", "customer", params["customer"], "customer")
    pm = _path_payment_method(ctx, path["payment_method"])
    billing.attach_payment_method(state, pm, customer["id"], ctx.origin)
    return ctx.render(pm, params)


def detach(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    pm = _path_payment_method(ctx, path["payment_method"])
    if pm["customer"] is None:
        raise invalid_request(
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible."
        )
    customer = state.data.customers[pm["customer"]]
    before = snapshot(pm)
    pm["customer"] = None
    state.emit_update("payment_method.detached", pm, before, ctx.origin)
    if customer["invoice_settings"]["default_payment_method"] == pm["id"]:
        customer_before = snapshot(customer)
        customer["invoice_settings"]["default_payment_method"] = None
        state.emit_update("customer.updated", customer, customer_before, ctx.origin)
    return ctx.render(pm, params)


ROUTES = [
    route("GET", "/v1/payment_methods/{payment_method}", retrieve, PaymentMethodRetrieveParams),
    route(
        "POST",
        "/v1/payment_methods/{payment_method}/attach",
        attach,
        PaymentMethodAttachParams,
    ),
    route(
        "POST",
        "/v1/payment_methods/{payment_method}/detach",
        detach,
        PaymentMethodDetachParams,
    ),
]
