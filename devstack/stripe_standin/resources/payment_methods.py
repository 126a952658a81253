"""PaymentMethods: retrieve (``pm_card_*`` test ids create fresh ones)."""

from __future__ import annotations

from typing import Any

from stripe.params import PaymentMethodRetrieveParams

from devstack.stripe_standin import invoicing
from devstack.stripe_standin.api_errors import resource_missing
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports
from devstack.stripe_standin.testmode_cards import TEST_CARDS

JSONDict = dict[str, Any]


def _path_payment_method(ctx: ApiContext, pm_id: str) -> JSONDict:
    if pm_id not in TEST_CARDS and pm_id not in ctx.state.data.payment_methods:
        raise resource_missing("payment_method", pm_id, param="payment_method", status=404)
    return invoicing.resolve_payment_method(
        ctx.state, pm_id, ctx.test_card_ids, param="payment_method"
    )


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(_path_payment_method(ctx, path["payment_method"]), params)


ROUTES = [
    route(
        "GET",
        "/v1/payment_methods/{payment_method}",
        retrieve,
        PaymentMethodRetrieveParams,
        Supports(),
    ),
]
