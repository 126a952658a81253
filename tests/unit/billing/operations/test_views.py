"""Stripe objects -> frontend views, on objects shaped as the 2026-10-28.endive API sends them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from billing.operations._views import subscription_view
from billing.operations.subscriptions import _secret


def _sub(**overrides: Any) -> stripe.Subscription:
    return stripe.Subscription.construct_from(_sub_json(**overrides), "sk_test_x")


def _sub_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "sub_1",
        "object": "subscription",
        "status": "active",
        "customer": {
            "id": "cus_1",
            "object": "customer",
            "invoice_settings": {
                "default_payment_method": {
                    "id": "pm_cust",
                    "object": "payment_method",
                    "type": "card",
                    "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
                }
            },
        },
        "cancel_at_period_end": False,
        "canceled_at": None,
        "trial_end": None,
        "default_payment_method": None,
        "pending_setup_intent": None,
        "latest_invoice": {
            "id": "in_1",
            "object": "invoice",
            "status": "paid",
            "amount_due": 999,
            "currency": "usd",
            "hosted_invoice_url": "https://invoice.example/in_1",
        },
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "current_period_end": 1_800_000_000,
                    "price": {
                        "id": "price_basic_monthly",
                        "object": "price",
                        "currency": "usd",
                        "unit_amount": 999,
                        "recurring": {"interval": "month", "interval_count": 1},
                        "product": {"id": "prod_basic", "object": "product", "name": "Basic"},
                    },
                },
                {
                    "id": "si_2",
                    "object": "subscription_item",
                    "current_period_end": 1_700_000_000,
                    "price": {
                        "id": "price_addon",
                        "object": "price",
                        "currency": "usd",
                        "unit_amount": 100,
                        "recurring": {"interval": "month", "interval_count": 1},
                        "product": "prod_addon",
                    },
                },
            ],
        },
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("shape", [_sub, _sub_json], ids=["sdk object", "api json"])
def test_period_end_comes_from_the_items_and_the_card_from_the_customer(
    shape: Callable[..., Any],
) -> None:
    view = subscription_view(shape())
    assert view.current_period_end == 1_800_000_000
    assert view.price is not None
    assert (view.price.id, view.price.product_name, view.price.interval) == (
        "price_basic_monthly",
        "Basic",
        "month",
    )
    assert view.latest_invoice is not None
    assert view.latest_invoice.hosted_invoice_url == "https://invoice.example/in_1"
    assert view.default_payment_method is not None
    assert view.default_payment_method.id == "pm_cust"


def test_an_invoice_without_a_hosted_page_has_a_null_url() -> None:
    # Stripe omits hosted_invoice_url (rather than sending null) until there is a page.
    draft = {"id": "in_2", "object": "invoice", "status": "draft", "amount_due": 999}
    view = subscription_view(_sub(latest_invoice={**draft, "currency": "usd"}))
    assert view.latest_invoice is not None
    assert (view.latest_invoice.id, view.latest_invoice.hosted_invoice_url) == ("in_2", None)


@pytest.mark.parametrize("shape", [_sub, _sub_json], ids=["sdk object", "api json"])
def test_the_subscriptions_own_default_card_wins(shape: Callable[..., Any]) -> None:
    own = {
        "id": "pm_sub",
        "object": "payment_method",
        "type": "card",
        "card": {"brand": "mastercard", "last4": "4444", "exp_month": 1, "exp_year": 2031},
    }
    view = subscription_view(shape(default_payment_method=own))
    assert view.default_payment_method is not None
    assert view.default_payment_method.last4 == "4444"


def test_incomplete_subscription_hands_over_the_invoice_confirmation_secret() -> None:
    sub = _sub_json(
        status="incomplete",
        latest_invoice={
            "id": "in_1",
            "object": "invoice",
            "status": "open",
            "confirmation_secret": {"client_secret": "pi_1_secret_abc", "type": "payment_intent"},
        },
    )
    assert _secret(sub) == ("pi_1_secret_abc", "payment")


def test_trial_hands_over_the_pending_setup_intent_secret() -> None:
    sub = _sub_json(
        status="trialing",
        pending_setup_intent={
            "id": "seti_1",
            "object": "setup_intent",
            "client_secret": "seti_1_secret_x",
        },
    )
    assert _secret(sub) == ("seti_1_secret_x", "setup")


def test_nothing_to_confirm_is_null() -> None:
    assert _secret(_sub_json()) == (None, None)


def test_a_view_from_the_api_json_equals_the_view_from_the_sdk_object() -> None:
    # retrieve-subscription reads the JSON, handle-subscription the SDK's object: one answer.
    variants: list[dict[str, Any]] = [
        {},
        {"customer": "cus_1", "latest_invoice": "in_1"},
        {"items": {"object": "list", "data": []}},
    ]
    for overrides in variants:
        assert subscription_view(_sub_json(**overrides)) == subscription_view(_sub(**overrides))
