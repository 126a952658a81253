"""Products and prices, seeded from the app's catalog (seeding.py; read-only here)."""

from __future__ import annotations

from typing import Any

from stripe.params import PriceRetrieveParams, ProductRetrieveParams

from devstack.stripe_standin.resources.common import get_or_404
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]


def retrieve_product(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(get_or_404(ctx.state, "products", "product", path["id"]), params)


def retrieve_price(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(get_or_404(ctx.state, "prices", "price", path["price"]), params)


ROUTES = [
    # The product's name in notifications; the price's product for product-limited codes.
    route("GET", "/v1/products/{id}", retrieve_product, ProductRetrieveParams, Supports()),
    route("GET", "/v1/prices/{price}", retrieve_price, PriceRetrieveParams, Supports()),
]
