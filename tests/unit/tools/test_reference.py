"""The reference pages and openapi.yaml are generated from the code's own lists: no drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import registry
from billing.errors import ERROR_CODES
from tools import openapi, reference


@pytest.mark.parametrize("path", sorted(reference.pages()), ids=lambda path: path.name)
def test_each_generated_page_is_what_the_code_says(path: Path) -> None:
    assert path.read_text() == reference.pages()[path], f"{path.name} is stale: run `make docs`"


def test_the_error_table_has_every_declared_code_with_its_status() -> None:
    page = reference.errors_page()
    for error in ERROR_CODES:
        assert f"| `{error.code}` | {error.status} | {error.message} |" in page, error.code


def test_openapi_enumerates_exactly_the_codes_a_browser_function_may_answer() -> None:
    schema = openapi.build()["components"]["schemas"]["Error"]
    enum = schema["properties"]["error"]["properties"]["code"]["enum"]
    assert enum == sorted(e.code for e in ERROR_CODES if e.audience in ("browser", "any"))
    assert "invalid_signature" not in enum  # the webhook's own, never a browser's


def test_the_operations_table_has_a_row_per_registry_function() -> None:
    rows = [line for line in reference.operations_page().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [fn.deployed_name for fn in registry.FUNCTIONS]


def test_the_settings_table_has_every_variable_of_every_deployable() -> None:
    rows = {row[0].strip("`"): row for row in reference.settings_rows()}
    for deployable, settings in reference.DEPLOYABLES.items():
        for name, field in settings.model_fields.items():
            row = rows[name.upper()]
            assert deployable in row[1]
            assert row[4] == "yes" if field.is_required() else row[4] != "yes"
    assert rows["STRIPE_SECRET_KEY"][5] == rows["SMTP_PASSWORD"][5] == "yes"
    assert rows["TRIAL_DAYS"][5] == "no"
    assert rows["CHECKOUT_SUCCESS_URL"][4] == "by `create-checkout-session`"
