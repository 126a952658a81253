"""Builders for API objects in the 2026-10-28.endive shape.

Objects are plain JSON-ready dicts stored by id; references to other objects hold ids and are
expanded on output (see ``expand``). Fields Stripe always sends are present with its empty
values; fields Stripe omits when they have no value (``field?:`` in its published types, see
``shapes.py``) are left out, never sent as null.
"""

from __future__ import annotations

import time
from typing import Any

from devstack.stripe_standin import ids
from devstack.stripe_standin.testmode_cards import CardProfile

JSONDict = dict[str, Any]


def address(value: Any = None) -> JSONDict | None:
    if not isinstance(value, dict):
        return None
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return {key: value.get(key) for key in keys}


# The stand-in's clock moves forward on request (POST /_standin/clock/advance), which only a
# test clock does in Stripe (https://docs.stripe.com/billing/testing/test-clocks): every
# customer, and with it every subscription and invoice, lives on this one test clock, so code
# that needs Stripe's "now" for a customer reads it where it would on Stripe, from
# ``test_clock.frozen_time`` (GET /v1/test_helpers/test_clocks/{id}).
TEST_CLOCK = "clock_standin"


def test_clock(frozen_time: int, created: int) -> JSONDict:
    return {
        "id": TEST_CLOCK,
        "object": "test_helpers.test_clock",
        "created": created,
        "deletes_after": frozen_time + 30 * 86_400,
        "frozen_time": frozen_time,
        "livemode": False,
        "name": "The Stripe stand-in's clock",
        "status": "ready",
        "status_details": {},
    }


def customer(customer_id: str, created: int) -> JSONDict:
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": ids.invoice_prefix(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": TEST_CLOCK,
    }


def product(product_id: str, name: str, created: int, **fields: Any) -> JSONDict:
    obj: JSONDict = {
        "id": product_id,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "tax_details": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }
    obj.update(fields)
    return obj


def price(
    price_id: str,
    product_id: str,
    unit_amount: int | None,
    currency: str,
    interval: str | None,
    created: int,
    **fields: Any,
) -> JSONDict:
    recurring = None
    meter = fields.pop("meter", None)
    usage_type = fields.pop("usage_type", None) or "licensed"
    tiered = bool(fields.pop("tiered", False))
    if interval is not None:
        recurring = {
            "interval": interval,
            "interval_count": int(fields.pop("interval_count", 1)),
            "meter": meter,
            "trial_period_days": None,
            "usage_type": usage_type,
        }
    obj: JSONDict = {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "tiered" if tiered else "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": "graduated" if tiered else None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": None if unit_amount is None else unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }
    obj.update(fields)
    return obj


def plan_from_price(price_obj: JSONDict) -> JSONDict:
    recurring = price_obj["recurring"] or {}
    return {
        "id": price_obj["id"],
        "object": "plan",
        "active": price_obj["active"],
        "amount": price_obj["unit_amount"],
        "amount_decimal": price_obj["unit_amount_decimal"],
        "billing_scheme": price_obj["billing_scheme"],
        "created": price_obj["created"],
        "currency": price_obj["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count", 1),
        "livemode": False,
        "metadata": dict(price_obj["metadata"]),
        "meter": recurring.get("meter"),
        "nickname": price_obj["nickname"],
        "product": price_obj["product"],
        "tiers_mode": price_obj["tiers_mode"],
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def card_payment_method(pm_id: str, profile: CardProfile, created: int) -> JSONDict:
    expiry = time.gmtime(created)
    return {
        "id": pm_id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": address({}),
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": profile.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked",
            },
            "country": profile.country,
            "display_brand": profile.brand,
            "exp_month": expiry.tm_mon,
            "exp_year": expiry.tm_year + 1,
            "fingerprint": ids.fingerprint(),
            "funding": profile.funding,
            "generated_from": None,
            "last4": profile.last4,
            "networks": {"available": [profile.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "radar_options": {},
        "type": "card",
    }


_CARD_OPTIONS = {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}


def setup_intent(si_id: str, created: int) -> JSONDict:
    return {
        "id": si_id,
        "object": "setup_intent",
        "allowed_payment_method_types": None,
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": ids.client_secret(si_id),
        "created": created,
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "managed_payments": None,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": dict(_CARD_OPTIONS)},
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": "off_session",
    }


def payment_intent(
    pi_id: str, amount: int, currency: str, customer_id: str | None, created: int
) -> JSONDict:
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": ids.client_secret(pi_id),
        "allowed_payment_method_types": None,
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, **_CARD_OPTIONS}},
        "payment_method_types": ["card"],
        "payment_record": None,
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def next_action_3ds(base_url: str, path: str) -> JSONDict:
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "type": "three_d_secure_redirect",
            "source": ids.new_id("src"),
            "stripe_js": f"{base_url}{path}",
        },
    }


def list_object(data: list[JSONDict], url: str, *, has_more: bool = False) -> JSONDict:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def subscription_item(
    item_id: str, sub_id: str, price_obj: JSONDict, quantity: int, start: int, end: int, now: int
) -> JSONDict:
    item = {
        "id": item_id,
        "object": "subscription_item",
        "billed_until": end,
        "billing_thresholds": None,
        "created": now,
        "current_period_end": end,
        "current_period_start": start,
        "current_trial": None,
        "discounts": [],
        "metadata": {},
        "plan": plan_from_price(price_obj),
        "price": price_obj,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }
    if (price_obj.get("recurring") or {}).get("usage_type") == "metered":
        del item["quantity"]  # a metered item has none (its usage is billed in arrears)
    return item


def subscription(sub_id: str, customer_id: str, currency: str, now: int) -> JSONDict:
    return {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "flexible", "updated_at": now},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "feedback_option": None,
            "reason": None,
        },
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "items": list_object([], f"/v1/subscription_items?subscription={sub_id}"),
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": now,
        "status": "incomplete",
        "test_clock": TEST_CLOCK,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {
            "end_behavior": {
                "billing_cycle_anchor": None,
                "missing_payment_method": "create_invoice",
            }
        },
        "trial_start": None,
    }


def invoice_line(
    invoice_id: str,
    sub_id: str,
    item: JSONDict,
    amount: int,
    description: str,
    start: int,
    end: int,
) -> JSONDict:
    price_obj = item["price"]
    line_id = ids.new_id("il")
    return {
        "id": line_id,
        "object": "line_item",
        "amount": amount,
        "currency": price_obj["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": sub_id,
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": end, "start": start},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "type": "price_details",
            "unit_amount_decimal": price_obj["unit_amount_decimal"],
        },
        "quantity": item.get("quantity", 0),
        "quantity_decimal": str(item.get("quantity", 0)),
        "subscription": sub_id,
        "subtotal": amount,
        "taxes": [],
    }


def invoice(
    invoice_id: str,
    customer_obj: JSONDict,
    sub_obj: JSONDict,
    billing_reason: str,
    lines: list[JSONDict],
    period_start: int,
    period_end: int,
    now: int,
) -> JSONDict:
    total = sum(int(line["amount"]) for line in lines)
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stripe stand-in (test mode)",
        "account_tax_ids": None,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": total,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": now,
        "currency": sub_obj["currency"],
        "custom_fields": None,
        "customer": customer_obj["id"],
        "customer_account": None,
        "customer_address": customer_obj["address"],
        "customer_email": customer_obj["email"],
        "customer_name": customer_obj["name"],
        "customer_phone": customer_obj["phone"],
        "customer_shipping": customer_obj["shipping"],
        "customer_tax_exempt": customer_obj["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": list_object(lines, f"/v1/invoices/{invoice_id}/lines"),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(sub_obj["metadata"]),
                "subscription": sub_obj["id"],
            },
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": TEST_CLOCK,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def invoice_payment(invoice_obj: JSONDict, pi_id: str, status: str, now: int) -> JSONDict:
    paid = status == "paid"
    return {
        "id": f"inpay_{pi_id.removeprefix('pi_')}",
        "object": "invoice_payment",
        "amount_paid": invoice_obj["amount_paid"] if paid else None,
        "amount_requested": invoice_obj["amount_due"],
        "created": invoice_obj["created"],
        "currency": invoice_obj["currency"],
        "invoice": invoice_obj["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": pi_id, "type": "payment_intent"},
        "status": status,
        "status_transitions": {"canceled_at": None, "paid_at": now if paid else None},
    }


def feature(feature_id: str, name: str, lookup_key: str) -> JSONDict:
    return {
        "id": feature_id,
        "object": "entitlements.feature",
        "active": True,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": {},
        "name": name,
    }


def product_feature(product_feature_id: str, feature_obj: JSONDict) -> JSONDict:
    return {
        "id": product_feature_id,
        "object": "product_feature",
        "entitlement_feature": feature_obj,
        "livemode": False,
    }


def active_entitlement(entitlement_id: str, feature_obj: JSONDict) -> JSONDict:
    return {
        "id": entitlement_id,
        "object": "entitlements.active_entitlement",
        "feature": feature_obj["id"],
        "livemode": False,
        "lookup_key": feature_obj["lookup_key"],
    }


def event(
    event_id: str,
    event_type: str,
    data_object: JSONDict,
    previous_attributes: JSONDict | None,
    created: int,
    request_id: str | None,
    idempotency_key: str | None,
    api_version: str,
) -> JSONDict:
    data: JSONDict = {"object": data_object}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


def portal_configuration(
    configuration_id: str, created: int, portal: JSONDict, *, is_default: bool = False
) -> JSONDict:
    """A saved billing portal configuration, as Terraform's stripe_billing_portal_configuration
    makes it from the catalog (infra/stripe.tf); shape from
    https://docs.stripe.com/api/customer_portal/configurations/object."""
    switches = portal["products"]
    return {
        "id": configuration_id,
        "object": "billing_portal.configuration",
        "active": True,
        "application": None,
        "business_profile": {
            "headline": None,
            "privacy_policy_url": None,
            "terms_of_service_url": None,
        },
        "created": created,
        "default_return_url": None,
        "features": {
            "customer_update": {"allowed_updates": ["address", "name", "tax_id"], "enabled": True},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True, "payment_method_configuration": None},
            "subscription_cancel": {
                "cancellation_reason": {
                    "enabled": False,
                    "feedback_options": None,
                    "options": [
                        "too_expensive",
                        "missing_features",
                        "switched_service",
                        "unused",
                        "other",
                    ],
                },
                "enabled": True,
                "mode": portal["cancel_mode"],
                "proration_behavior": "none",
            },
            "subscription_pause": {
                "duration": {"interval_options": [], "type": "indefinite"},
                "enabled": False,
            },
            "subscription_update": {
                "billing_cycle_anchor": None,
                "default_allowed_updates": ["price"] if switches else [],
                "enabled": bool(switches),
                "products": [
                    {
                        "adjustable_quantity": {"enabled": False, "maximum": None, "minimum": 1},
                        "prices": list(entry["prices"]),
                        "product": entry["product"],
                    }
                    for entry in switches
                ],
                "proration_behavior": portal["proration_behavior"],
                "schedule_at_period_end": {"conditions": []},
                "trial_update_behavior": "end_trial",
            },
        },
        "is_default": is_default,
        "livemode": False,
        "login_page": {"enabled": False, "url": None},
        "metadata": {"managed_by": "terraform"},
        "name": None,
        "updated": created,
    }
