"""Render stored objects with ``expand[]`` applied, as Stripe does.

Ids in expandable fields are replaced by the (unexpanded) object; paths go deeper with dots
(``latest_invoice.confirmation_secret``, ``items.data.price.product``, ``data.customer`` for
lists). "Includable" fields such as ``invoice.confirmation_secret`` are absent unless expanded.
"""

from __future__ import annotations

import copy
from typing import Any

from devstack.stripe_standin import objects
from devstack.stripe_standin.api_errors import invalid_request
from devstack.stripe_standin.state import State

JSONDict = dict[str, Any]

EXPANDABLE: dict[str, frozenset[str]] = {
    "customer": frozenset(
        {"default_source", "invoice_settings.default_payment_method", "test_clock"}
    ),
    "product": frozenset({"default_price", "tax_code"}),
    "price": frozenset({"product"}),
    "plan": frozenset({"product"}),
    "payment_method": frozenset({"customer"}),
    "setup_intent": frozenset(
        {
            "customer",
            "payment_method",
            "latest_attempt",
            "mandate",
            "single_use_mandate",
            "application",
            "on_behalf_of",
        }
    ),
    "payment_intent": frozenset(
        {
            "customer",
            "payment_method",
            "latest_charge",
            "application",
            "on_behalf_of",
            "review",
            "payment_record",
        }
    ),
    "subscription": frozenset(
        {
            "customer",
            "default_payment_method",
            "latest_invoice",
            "pending_setup_intent",
            "schedule",
            "test_clock",
            "application",
            "on_behalf_of",
            "default_source",
            "discounts",
        }
    ),
    "subscription_item": frozenset({"discounts"}),
    "subscription_schedule": frozenset({"customer", "subscription", "test_clock", "application"}),
    "invoice": frozenset(
        {
            "customer",
            "default_payment_method",
            "parent.subscription_details.subscription",
            "test_clock",
            "latest_revision",
            "application",
            "on_behalf_of",
            "default_source",
            "discounts",
            "account_tax_ids",
        }
    ),
    "line_item": frozenset({"subscription", "discounts"}),
    "invoice_payment": frozenset({"invoice", "payment.payment_intent"}),
    "promotion_code": frozenset({"customer", "promotion.coupon"}),
    "discount": frozenset({"customer", "promotion_code", "source.coupon"}),
    "checkout.session": frozenset(
        {"customer", "invoice", "subscription", "payment_intent", "setup_intent", "payment_link"}
    ),
    "billing_portal.session": frozenset({"configuration"}),
}

# Fields only present when expanded.
INCLUDABLE: dict[str, frozenset[str]] = {
    "invoice": frozenset({"confirmation_secret", "payments"}),
    "coupon": frozenset({"applies_to"}),
    # "This field is not included by default. To include it in the response, expand the
    # tiers field." (https://docs.stripe.com/api/prices/object#price_object-tiers)
    "price": frozenset({"tiers"}),
}


class Expander:
    def __init__(self, state: State) -> None:
        self._state = state

    def render(self, obj: JSONDict, expand: list[str] | None = None) -> JSONDict:
        result = copy.deepcopy(obj)
        for path in sorted(set(expand or []), key=lambda p: p.count(".")):
            self._expand_object(result, path.split("."), path)
        return result

    def _expand_object(self, obj: JSONDict, segments: list[str], full: str) -> None:
        object_type = str(obj.get("object", ""))
        if object_type == "list":
            if segments[0] != "data":
                raise _cannot_expand(full)
            if len(segments) > 1:
                for item in obj["data"]:
                    self._expand_object(item, segments[1:], full)
            return
        self._expand_in(obj, obj, object_type, [], segments, full)

    def _expand_in(
        self,
        owner: JSONDict,
        node: JSONDict,
        object_type: str,
        relative: list[str],
        segments: list[str],
        full: str,
    ) -> None:
        segment, rest = segments[0], segments[1:]
        key = ".".join([*relative, segment])
        if key in INCLUDABLE.get(object_type, frozenset()):
            node[segment] = self._include(owner, segment)
            value = node[segment]
        elif key in EXPANDABLE.get(object_type, frozenset()) and segment in node:
            node[segment] = self._resolve(node[segment])
            value = node[segment]
        elif segment in node and isinstance(node[segment], dict):
            value = node[segment]
            if "object" not in value:
                if not rest:
                    raise _cannot_expand(full)
                self._expand_in(owner, value, object_type, [*relative, segment], rest, full)
                return
            if not rest:
                raise _cannot_expand(full)
        else:
            raise _cannot_expand(full)
        if rest and isinstance(value, dict):
            self._expand_object(value, rest, full)
        elif rest and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    self._expand_object(item, rest, full)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            found = self._state.lookup(value)
            return copy.deepcopy(found) if found is not None else value
        if isinstance(value, list):
            return [self._resolve(item) for item in value]
        return value

    def _include(self, owner: JSONDict, field: str) -> Any:
        data = self._state.data
        if field == "applies_to":
            return {"products": list(data.coupon_applies_to.get(str(owner["id"]), []))}
        if field == "tiers":
            return price_tiers(data.price_tiers.get(str(owner["id"])))
        pi_id = data.invoice_pi.get(str(owner.get("id")))
        pi = data.payment_intents.get(pi_id) if pi_id else None
        if field == "confirmation_secret":
            if pi is None:
                return None
            return {"client_secret": pi["client_secret"], "type": "payment_intent"}
        if field == "payments":
            payments = []
            if pi is not None:
                status = {"succeeded": "paid", "canceled": "canceled"}.get(pi["status"], "open")
                payments.append(objects.invoice_payment(owner, pi["id"], status, self._state.now()))
            return objects.list_object(payments, f"/v1/invoice_payments?invoice={owner['id']}")
        return None


def price_tiers(stored: list[JSONDict] | None) -> list[JSONDict] | None:
    """A price's tiers as Stripe shows them (null for a per-unit price): every amount both
    as an integer and as a decimal string
    (https://docs.stripe.com/api/prices/object#price_object-tiers)."""
    if not stored:
        return None
    return [
        {
            "flat_amount": tier.get("flat_amount"),
            "flat_amount_decimal": None
            if tier.get("flat_amount") is None
            else str(tier["flat_amount"]),
            "unit_amount": tier.get("unit_amount"),
            "unit_amount_decimal": None
            if tier.get("unit_amount") is None
            else str(tier["unit_amount"]),
            "up_to": tier.get("up_to"),
        }
        for tier in stored
    ]


def _cannot_expand(path: str) -> Exception:
    return invalid_request(f"This property cannot be expanded ({path}).", param="expand")
