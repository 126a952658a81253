"""Property-based contract test: schemathesis generates requests from openapi.yaml (valid and
invalid bodies alike) and sends them to the running functions with a valid local token.

Every answer must be documented: no 5xx, a status the document lists for that function, and a
body in that status's schema (so every error has the one error shape). The caller owns a
customer with an unpaid subscription and a saved card, so generated ids reach the ownership
checks instead of stopping at "create a customer first". Examples per function are bounded
(``SCHEMATHESIS_EXAMPLES``, default 25) to keep ``make test`` short.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.stack import StackInfo
from tests.support.stack_fixtures import User

DOC = Path(__file__).resolve().parents[2] / "openapi.yaml"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))

schema = schemathesis.openapi.from_path(DOC)


@pytest.fixture(scope="module")
def owner(api: Any, stack: StackInfo, standin: Any) -> User:
    user = User(api, stack.project_id)
    user.customer()
    user.ok("create-subscription", {"price_id": "price_basic_monthly"})
    intent = user.ok("create-setup-intent", {})
    standin.sdk.v1.setup_intents.confirm(
        intent["setup_intent_id"], params={"payment_method": "pm_card_visa"}
    )
    return user


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_is_documented(case: Any, stack: StackInfo, owner: User) -> None:
    base_url = stack.function_url(case.path.strip("/"))
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Bearer {owner.token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=60,
    )
