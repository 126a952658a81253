"""Error codes are one declared list: nothing answers a code that is not in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from billing import errors
from billing.errors import BY_CODE, ERROR_CODES, BillingError, Conflict, NotFound
from billing.translate import decline

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"


def test_every_code_is_declared_once_with_a_known_status() -> None:
    assert len(BY_CODE) == len(ERROR_CODES)
    assert all(error.status in errors.STATUSES for error in ERROR_CODES)


def test_no_code_is_written_as_a_string_where_an_error_is_raised() -> None:
    # A code is passed as its declared entry (code=SAME_PRICE), never as text: a typo or an
    # undeclared code cannot reach an answer.
    literals = []
    for path in FUNCTIONS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            value = None
            if (isinstance(node, ast.keyword) and node.arg == "code") or (
                isinstance(node, ast.Assign)
                and any(
                    isinstance(target, ast.Name) and target.id == "code" for target in node.targets
                )
            ):
                value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                literals.append(f"{path.relative_to(FUNCTIONS)}:{value.lineno}")
    assert literals == []


def test_every_error_class_answers_with_a_declared_code_of_its_status() -> None:
    classes: list[type[BillingError]] = [BillingError, *BillingError.__subclasses__()]
    for cls in classes:
        assert BY_CODE[cls.error.code] is cls.error, cls
        assert cls.status == cls.error.status, cls


def test_a_code_of_another_status_cannot_be_raised() -> None:
    with pytest.raises(TypeError, match="same_price is a 409, not a 404"):
        NotFound(code=errors.SAME_PRICE)
    raised = Conflict(code=errors.SAME_PRICE)
    assert raised.body() == {
        "error": {"code": "same_price", "message": "You are already on this plan."}
    }


def test_declines_answer_stripes_code_when_declared_else_card_declined() -> None:
    assert decline("card_declined", "insufficient_funds") is errors.INSUFFICIENT_FUNDS
    assert decline("expired_card", None) is errors.EXPIRED_CARD
    assert decline("card_declined", "do_not_honor") is errors.CARD_DECLINED
    assert decline(None, None) is errors.CARD_DECLINED
