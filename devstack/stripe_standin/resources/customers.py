"""Customers: create, retrieve, update, list."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    CustomerCreateParams,
    CustomerListParams,
    CustomerRetrieveParams,
    CustomerUpdateParams,
)

from devstack.stripe_standin import ids, invoicing, listing, objects
from devstack.stripe_standin.api_errors import invalid_request
from devstack.stripe_standin.resources.common import (
    LIST_PAGING,
    get_or_404,
    merge_metadata,
    unset_or,
)
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.state import snapshot
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

# Stored and shown as given (invoices copy the name, email, phone and addresses); balance,
# tax_exempt and the invoice footer and custom fields would change invoices: not modelled.
_SIMPLE = (
    "name",
    "email",
    "description",
    "phone",
    "invoice_prefix",
    "preferred_locales",
    "business_name",
    "individual_name",
    "next_invoice_sequence",
)
# Stripe leaves these out of a customer that has none (``field?:`` in its types).
_OMITTED_WHEN_EMPTY = frozenset({"business_name", "individual_name"})
_FIELDS = (*_SIMPLE, "address", "shipping.address", "shipping.name", "shipping.phone", "metadata")


def _apply_fields(customer: JSONDict, params: JSONDict) -> None:
    for field in _SIMPLE:
        if field in params:
            customer[field] = unset_or(params[field])
            if customer[field] is None and field in _OMITTED_WHEN_EMPTY:
                del customer[field]
    if "address" in params:
        customer["address"] = objects.address(params["address"])
    if "shipping" in params:
        shipping = params["shipping"]
        customer["shipping"] = (
            None
            if shipping == ""
            else {
                "address": objects.address(shipping.get("address")),
                "name": shipping.get("name"),
                "phone": shipping.get("phone"),
            }
        )
    if "metadata" in params:
        customer["metadata"] = merge_metadata(customer["metadata"], params["metadata"])


def create(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    customer = objects.customer(ids.new_id("cus"), state.now())
    pm = None
    if "payment_method" in params:
        pm = invoicing.resolve_payment_method(
            state, params["payment_method"], ctx.test_card_ids, param="payment_method"
        )
        if pm["customer"] is not None:
            raise invalid_request(
                "The payment method you provided has already been attached to a customer.",
                param="payment_method",
            )
        invoicing.check_attachable(state, pm)
    default = (params.get("invoice_settings") or {}).get("default_payment_method")
    if default:
        chosen = ctx.test_card_ids.get(default, default)
        if pm is None or chosen != pm["id"]:
            raise invalid_request(
                f"The customer does not have a payment method with the ID {default}. The "
                "payment method must be attached to the customer.",
                param="invoice_settings[default_payment_method]",
            )
    _apply_fields(customer, params)
    if pm is not None and default:
        customer["invoice_settings"]["default_payment_method"] = pm["id"]
    state.data.customers[customer["id"]] = customer
    state.emit("customer.created", customer, ctx.origin)
    if pm is not None:
        invoicing.attach_payment_method(state, pm, customer["id"], ctx.origin)
    return ctx.render(customer, params)


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    customer = get_or_404(ctx.state, "customers", "customer", path["customer"])
    return ctx.render(customer, params)


def update(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    state = ctx.state
    customer = get_or_404(state, "customers", "customer", path["customer"])
    settings = params.get("invoice_settings") or {}
    default_pm_id = None
    if "default_payment_method" in settings and settings["default_payment_method"] != "":
        default_pm_id = invoicing.require_attached(
            state,
            settings["default_payment_method"],
            customer["id"],
            ctx.test_card_ids,
            param="invoice_settings[default_payment_method]",
        )["id"]
    before = snapshot(customer)
    _apply_fields(customer, params)
    if "default_payment_method" in settings:
        customer["invoice_settings"]["default_payment_method"] = default_pm_id
    state.emit_update("customer.updated", customer, before, ctx.origin)
    return ctx.render(customer, params)


def list_customers(ctx: ApiContext, _: dict[str, str], params: JSONDict) -> JSONDict:
    email = params.get("email")
    matching = [
        c
        for c in listing.newest_first(ctx.state.data.customers.values())
        if (email is None or c["email"] == email)
        and listing.created_matches(c, params.get("created"))
    ]
    return ctx.render(listing.paginate(matching, params, "/v1/customers"), params)


ROUTES = [
    route(
        "POST",
        "/v1/customers",
        create,
        CustomerCreateParams,
        Supports(*_FIELDS, "payment_method", "invoice_settings.default_payment_method"),
    ),
    route(
        "GET", "/v1/customers", list_customers, CustomerListParams, Supports("email", *LIST_PAGING)
    ),
    route("GET", "/v1/customers/{customer}", retrieve, CustomerRetrieveParams, Supports()),
    route(
        "POST",
        "/v1/customers/{customer}",
        update,
        CustomerUpdateParams,
        Supports(*_FIELDS, "invoice_settings.default_payment_method"),
    ),
]
