"""Products and prices, seeded from ``catalog.json`` (read-only here)."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    PriceListParams,
    PriceRetrieveParams,
    ProductListParams,
    ProductRetrieveParams,
)

from devstack.stripe_standin import listing
from devstack.stripe_standin.resources.common import get_or_404
from devstack.stripe_standin.routing import ApiContext, route

JSONDict = dict[str, Any]


def retrieve_product(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(get_or_404(ctx.state, "products", "product", path["id"]), params)


def list_products(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    wanted_ids = params.get("ids")
    matching = [
        p
        for p in listing.newest_first(ctx.state.data.products.values())
        if ("active" not in params or p["active"] == params["active"])
        and (wanted_ids is None or p["id"] in wanted_ids)
        and ("type" not in params or p["type"] == params["type"])
        and listing.created_matches(p, params.get("created"))
    ]
    return ctx.render(listing.paginate(matching, params, "/v1/products"), params)


def retrieve_price(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    return ctx.render(get_or_404(ctx.state, "prices", "price", path["price"]), params)


def _price_matches(price: JSONDict, params: JSONDict) -> bool:
    recurring = params.get("recurring") or {}
    lookup_keys = params.get("lookup_keys")
    checks = [
        "active" not in params or price["active"] == params["active"],
        "product" not in params or price["product"] == params["product"],
        "type" not in params or price["type"] == params["type"],
        "currency" not in params or price["currency"] == params["currency"],
        lookup_keys is None or price["lookup_key"] in lookup_keys,
        "interval" not in recurring
        or (price["recurring"] or {}).get("interval") == recurring["interval"],
        listing.created_matches(price, params.get("created")),
    ]
    return all(checks)


def list_prices(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    matching = [
        p for p in listing.newest_first(ctx.state.data.prices.values()) if _price_matches(p, params)
    ]
    return ctx.render(listing.paginate(matching, params, "/v1/prices"), params)


ROUTES = [
    route("GET", "/v1/products", list_products, ProductListParams),
    route("GET", "/v1/products/{id}", retrieve_product, ProductRetrieveParams),
    route("GET", "/v1/prices", list_prices, PriceListParams),
    route("GET", "/v1/prices/{price}", retrieve_price, PriceRetrieveParams),
]
