"""Form decoding and validation against stripe-python's typed params."""

from __future__ import annotations

from typing import Any, cast

import pytest
import stripe
from stripe.params import (
    CustomerCreateParams,
    CustomerUpdateParams,
    SubscriptionCreateParams,
    SubscriptionListParams,
)

from devstack.stripe_standin.api_errors import StripeAPIError
from devstack.stripe_standin.formcodec import FormDecodeError, decode_form
from devstack.stripe_standin.params import validate


def _validate(body: str, params_type: object) -> dict[str, Any]:
    return validate(decode_form(body), params_type)


def _rejected(body: str, params_type: object) -> StripeAPIError:
    with pytest.raises(StripeAPIError) as caught:
        _validate(body, params_type)
    return caught.value


def test_decodes_nested_keys_indexed_arrays_and_empty_values() -> None:
    decoded = decode_form(
        "metadata[uid]=x&expand[0]=a.b&items[0][price]=p&items[0][quantity]=2"
        "&invoice_settings[default_payment_method]=pm&description=&tags[]=a&tags[]=b"
    )
    assert decoded == {
        "metadata": {"uid": "x"},
        "expand": {"0": "a.b"},
        "items": {"0": {"price": "p", "quantity": "2"}},
        "invoice_settings": {"default_payment_method": "pm"},
        "description": "",
        "tags": ["a", "b"],
    }


def test_a_key_used_as_both_value_and_hash_is_rejected() -> None:
    with pytest.raises(FormDecodeError):
        decode_form("metadata=x&metadata[a]=b")


def test_validation_coerces_types_and_builds_lists() -> None:
    params = _validate(
        "customer=cus_1&items[0][price]=price_pro_monthly&items[0][quantity]=2"
        "&payment_behavior=default_incomplete&trial_period_days=7&cancel_at_period_end=false"
        "&payment_settings[save_default_payment_method]=on_subscription"
        "&expand[0]=latest_invoice.confirmation_secret&expand[1]=pending_setup_intent"
        "&metadata[uid]=u1",
        SubscriptionCreateParams,
    )
    assert params == {
        "customer": "cus_1",
        "items": [{"price": "price_pro_monthly", "quantity": 2}],
        "payment_behavior": "default_incomplete",
        "trial_period_days": 7,
        "cancel_at_period_end": False,
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"],
        "metadata": {"uid": "u1"},
    }


def test_unknown_nested_param_is_named_like_stripe_names_it() -> None:
    error = _rejected("items[0][pricee]=price_pro_monthly", SubscriptionCreateParams)
    assert (error.status, error.code, error.param) == (400, "parameter_unknown", "items[0][pricee]")
    assert error.message == "Received unknown parameter: items[0][pricee]"


def test_request_options_are_not_api_params() -> None:
    for key in ("api_key", "idempotency_key", "stripe_account", "headers"):
        assert _rejected(f"{key}=x", CustomerCreateParams).code == "parameter_unknown"


def test_enum_values_are_checked_although_the_sdk_types_them_open() -> None:
    error = _rejected("payment_behavior=default_incomplet", SubscriptionCreateParams)
    assert error.param == "payment_behavior"
    assert "must be one of allow_incomplete, default_incomplete" in error.message
    nested = _rejected(
        "payment_settings[save_default_payment_method]=always", SubscriptionCreateParams
    )
    assert nested.param == "payment_settings[save_default_payment_method]"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ("trial_period_days=seven", "trial_period_days", "parameter_invalid_integer"),
        ("cancel_at_period_end=yes", "cancel_at_period_end", None),
        ("items=price_pro_monthly", "items", None),
        ("email=", None, None),
    ],
)
def test_wrong_types_name_the_param(body: str, param: str | None, code: str | None) -> None:
    params_type = CustomerCreateParams if body.startswith("email") else SubscriptionCreateParams
    error = _rejected(body, params_type)
    assert error.status == 400
    assert error.param == (param or "email")
    if body.startswith("email"):
        assert error.code == "parameter_invalid_empty"
    else:
        assert error.code == code


def test_empty_string_unsets_where_the_sdk_allows_it() -> None:
    assert _validate("metadata=", CustomerUpdateParams) == {"metadata": ""}
    assert _validate("metadata[old]=", CustomerUpdateParams) == {"metadata": {"old": ""}}
    assert _validate("trial_end=now", SubscriptionCreateParams) == {"trial_end": "now"}


def test_nested_required_keys_are_enforced() -> None:
    error = _rejected("add_invoice_items[0][period][end][type]=timestamp", SubscriptionCreateParams)
    assert (error.code, error.param) == ("parameter_missing", "add_invoice_items[0][period][start]")


def test_list_params_with_ranges() -> None:
    params = _validate("limit=3&created[gte]=5&status=all", SubscriptionListParams)
    assert params == {"limit": 3, "created": {"gte": 5}, "status": "all"}


def test_sdk_raises_invalid_request_error_with_param_for_a_misspelled_key(
    client: stripe.StripeClient, email: str
) -> None:
    customer = client.v1.customers.create({"email": email})
    bad: Any = {"customer": customer.id, "items": [{"pricee": "price_pro_monthly"}]}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.create(bad)
    assert caught.value.param == "items[0][pricee]"
    assert caught.value.code == "parameter_unknown"
    assert caught.value.http_status == 400
    # Nothing was created.
    listed = client.v1.subscriptions.list({"customer": customer.id, "status": "all"})
    assert listed.data == []


def test_sdk_raises_for_a_misspelled_enum_value(client: stripe.StripeClient, email: str) -> None:
    customer = client.v1.customers.create({"email": email})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": "price_pro_monthly"}],
                "payment_behavior": "default_incomplet",
            }
        )
    assert caught.value.param == "payment_behavior"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        ({"metadata": {"k" * 41: "v"}}, "metadata[" + "k" * 41 + "]"),
        ({"metadata": {"note": "v" * 501}}, "metadata[note]"),
        ({"email": "a" * 503 + "@example.com"}, "email"),
        ({"description": "d" * 5001}, "description"),
        ({"business_name": "b" * 151}, "business_name"),
        ({"expand": ["a.b.c.d.e"]}, "expand[0]"),
    ],
)
def test_stripes_documented_limits(
    client: stripe.StripeClient, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.create(cast(CustomerCreateParams, params))
    assert (caught.value.http_status, caught.value.param) == (400, param)


def test_limits_are_inclusive(client: stripe.StripeClient) -> None:
    created = client.v1.customers.create(
        {
            "metadata": {"k" * 40: "v" * 500, **{f"k{i}": "v" for i in range(49)}},
            "email": "a" * 500 + "@example.com",
            "business_name": "b" * 150,
        }
    )
    assert created.metadata is not None
    assert len(created.metadata.to_dict()) == 50
