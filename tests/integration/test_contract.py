"""openapi.yaml says what the functions do: required bodies, and strings taken as sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.openapi_check import document
from tests.support.stack_fixtures import StandIn, User

pytestmark = pytest.mark.integration

# The POST operations: a GET (list-plans, the public pricing read) takes no body.
OPERATIONS = sorted(
    path.removeprefix("/") for path, methods in document()["paths"].items() if "post" in methods
)


def _operation(function: str) -> dict[str, Any]:
    operation: dict[str, Any] = document()["paths"][f"/{function}"]["post"]
    return operation


@pytest.mark.parametrize("function", OPERATIONS)
def test_a_body_is_required_exactly_where_the_document_says(user: User, function: str) -> None:
    user.customer()
    response = user.call(function, data=b"", headers={"Content-Type": "application/json"})
    error = response.json().get("error", {}) if response.status_code >= 400 else {}
    missing = error.get("code") == "invalid_field" and "is required" in error["message"]
    assert missing == _operation(function)["requestBody"]["required"], response.text


def test_the_operations_with_required_fields_document_a_required_body() -> None:
    required = [f for f in OPERATIONS if _operation(f)["requestBody"]["required"]]
    assert required == [
        "change-plan",
        "create-checkout-session",
        "create-subscription",
        "handle-subscription",
        "preview-plan-change",
        "retrieve-payment-method",
        "retrieve-subscription",
        "retry-invoice",
        "update-payment-method",
    ]


@pytest.mark.parametrize(
    ("function", "body", "field"),
    [
        ("retrieve-subscription", {"subscription_id": " sub_abc "}, "subscription_id"),
        ("retrieve-subscription", {"subscription_id": "sub_abc\n"}, "subscription_id"),
        ("retrieve-payment-method", {"payment_method_id": "\tpm_abc"}, "payment_method_id"),
        ("retry-invoice", {"invoice_id": "in_abc ", "payment_method_id": "pm_x"}, "invoice_id"),
        ("create-subscription", {"price_id": " price_basic_monthly"}, "price_id"),
        ("create-customer", {"name": "x" * 150 + "  "}, "name"),
    ],
)
def test_strings_are_not_trimmed_a_padded_value_is_400(
    user: User, function: str, body: dict[str, Any], field: str
) -> None:
    user.customer()
    response = user.call(function, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_field"
    assert response.json()["error"]["field"] == field


def test_a_name_is_stored_as_sent(user: User, standin: StandIn) -> None:
    name = "  Ada Lovelace  "  # within 150 characters with its spaces: kept as sent
    response = user.call("create-customer", {"name": name})
    assert response.status_code == 200, response.text
    assert standin.sdk.v1.customers.retrieve(response.json()["customer_id"]).name == name
