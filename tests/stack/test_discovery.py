"""Which functions the stack starts: read from main.py's decorators, nothing imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.stack import DEFAULT_FUNCTIONS_SOURCE, FunctionSpec, StackError, discover_functions

FIXTURES = Path(__file__).parent / "fixtures"


def test_decorated_top_level_functions_are_found_in_source_order() -> None:
    assert discover_functions(FIXTURES / "discovery" / "main.py") == [
        FunctionSpec("create_customer", "http"),
        FunctionSpec("retry_invoice", "http"),
        FunctionSpec("stripe_webhook", "http"),
        FunctionSpec("email", "cloudevent"),
        FunctionSpec("audit_log", "cloudevent"),
    ]


def test_the_deployed_name_uses_dashes() -> None:
    assert FunctionSpec("create_customer", "http").deployed_name == "create-customer"


def test_the_project_main_py_declares_create_customer() -> None:
    specs = discover_functions(DEFAULT_FUNCTIONS_SOURCE)
    assert FunctionSpec("create_customer", "http") in specs


def test_a_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"main\.py not found"):
        discover_functions(tmp_path / "main.py")
