"""Entitlements: features, attaching them to products, a customer's active active_entitlements."""

from __future__ import annotations

from typing import Any

from stripe.params import ProductFeatureCreateParams, ProductFeatureListParams
from stripe.params.entitlements import ActiveEntitlementListParams, FeatureCreateParams

from devstack.stripe_standin import active_entitlements, ids, listing, objects
from devstack.stripe_standin.api_errors import invalid_request
from devstack.stripe_standin.resources.common import LIST_PAGING, get_or_404, get_param_object
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]


def create_feature(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    taken = {f["lookup_key"] for f in ctx.state.data.features.values()}
    if params["lookup_key"] in taken:
        raise invalid_request("A feature with this lookup_key already exists.", param="lookup_key")
    feature = objects.feature(ids.new_id("feat"), params["name"], params["lookup_key"])
    feature["metadata"] = dict(params.get("metadata") or {})
    ctx.state.data.features[feature["id"]] = feature
    return ctx.render(feature, params)


def attach_feature(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    product = get_or_404(ctx.state, "products", "product", path["product"])
    feature = get_param_object(
        ctx.state, "features", "entitlements.feature", params["entitlement_feature"],
        "entitlement_feature",
    )  # fmt: skip
    attached = ctx.state.data.product_features.setdefault(product["id"], [])
    if any(pf["entitlement_feature"]["id"] == feature["id"] for pf in attached):
        raise invalid_request(
            "This feature is already attached to the product.", param="entitlement_feature"
        )
    product_feature = objects.product_feature(ids.new_id("prodft"), feature)
    attached.append(product_feature)
    return ctx.render(product_feature, params)


def list_product_features(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    """GET /v1/products/{id}/features: the features attached to a product, as a list object
    (docs.stripe.com/api/product-feature/list; paged with limit/starting_after/ending_before)."""
    product = get_or_404(ctx.state, "products", "product", path["product"])
    attached = list(ctx.state.data.product_features.get(product["id"], []))
    path_url = f"/v1/products/{product['id']}/features"
    return ctx.render(listing.paginate(attached, params, path_url), params)


def list_active(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    get_param_object(ctx.state, "customers", "customer", params["customer"], "customer")
    active = active_entitlements.active_for(ctx.state, params["customer"])
    return ctx.render(
        listing.paginate(active, params, "/v1/entitlements/active_entitlements"), params
    )


ROUTES = [
    route(
        "POST",
        "/v1/entitlements/features",
        create_feature,
        FeatureCreateParams,
        Supports("name", "lookup_key", "metadata"),
    ),
    route(
        "POST",
        "/v1/products/{product}/features",
        attach_feature,
        ProductFeatureCreateParams,
        Supports("entitlement_feature"),
    ),
    route(
        "GET",
        "/v1/products/{product}/features",
        list_product_features,
        ProductFeatureListParams,
        Supports("limit", "starting_after", "ending_before"),
    ),
    route(
        "GET",
        "/v1/entitlements/active_entitlements",
        list_active,
        ActiveEntitlementListParams,
        Supports("customer", *LIST_PAGING),
    ),
]
