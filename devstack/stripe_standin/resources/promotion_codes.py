"""Promotion codes: list (find one by the code a customer typed) and retrieve. Read-only: the
codes and their coupons are seeded from the catalog and fixtures.json (seeding.py)."""

from __future__ import annotations

from typing import Any

from stripe.params import PromotionCodeListParams

from devstack.stripe_standin import listing
from devstack.stripe_standin.api_errors import invalid_request
from devstack.stripe_standin.resources.common import get_or_404
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

_LIST_IMPLEMENTED = frozenset(
    {"active", "code", "coupon", "customer", "limit", "starting_after", "ending_before", "expand"}
)


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    promo = get_or_404(ctx.state, "promotion_codes", "promotion_code", path["promotion_code"])
    return ctx.render(promo, params)


def list_promotion_codes(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    unknown = sorted(set(params) - _LIST_IMPLEMENTED)
    if unknown:
        raise invalid_request(
            f"The Stripe stand-in does not implement {unknown[0]} here.", param=unknown[0]
        )

    def matches(promo: JSONDict) -> bool:
        return (
            ("active" not in params or promo["active"] == params["active"])
            # Stripe matches the code regardless of case.
            and ("code" not in params or promo["code"].lower() == params["code"].lower())
            and ("coupon" not in params or promo["promotion"]["coupon"] == params["coupon"])
            and ("customer" not in params or promo["customer"] == params["customer"])
        )

    found = [p for p in listing.newest_first(ctx.state.data.promotion_codes.values()) if matches(p)]
    return ctx.render(listing.paginate(found, params, "/v1/promotion_codes"), params)


ROUTES = [
    route(
        "GET",
        "/v1/promotion_codes",
        list_promotion_codes,
        PromotionCodeListParams,
        Supports(*_LIST_IMPLEMENTED),
    ),
]
