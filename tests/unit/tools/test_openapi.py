"""openapi.yaml is valid OpenAPI 3.1 and is exactly what the code's models describe."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from app.registry import FUNCTIONS
from tests.support.openapi_check import DOC_PATH, assert_matches, document
from tools import openapi


def test_committed_document_matches_the_models() -> None:
    assert DOC_PATH.read_text() == openapi.render(), "openapi.yaml is stale: run `make openapi`"


def test_document_is_valid_openapi_3_1() -> None:
    validate(document())


def test_every_function_is_documented() -> None:
    browser = {f"/{fn.deployed_name}" for fn in FUNCTIONS if fn.kind == "browser"}
    assert browser == set(document()["paths"])


def test_checker_rejects_a_body_that_breaks_the_schema() -> None:
    assert_matches("create-customer", 200, {"customer_id": "cus_1", "created": True})
    with pytest.raises(AssertionError, match="created"):
        assert_matches("create-customer", 200, {"customer_id": "cus_1"})
    with pytest.raises(AssertionError, match="undocumented status 402"):
        assert_matches("create-customer", 402, {"error": {"code": "x", "message": "y"}})
    with pytest.raises(AssertionError):
        assert_matches("create-customer", 400, {"error": {"code": "x"}})
