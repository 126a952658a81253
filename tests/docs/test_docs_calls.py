"""The function calls the docs show but cannot run (a deploy's smoke test) are checked against
the operations they call.

``docs/deploy.md``'s smoke test cannot run here (it needs a deployed project), so nothing would
notice a body the function refuses. Every ``call NAME BODY`` in a block marked not-run must name
a browser function, and its body (shell variables filled with well-formed ids) must be one the
operation's request model accepts: the same model the function validates with and
``openapi.yaml`` is generated from. The answer shown below it (``# {...}``) may name only fields
of the operation's response model.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support import docs as markdown

REPO = Path(__file__).resolve().parents[2]

# Well-formed stand-ins for the shell variables the docs fill in at run time.
SAMPLE_VALUES = {
    "PRICE": "price_1SmokeBasicMonthly",
    "SUB": "sub_1SmokeSubscription",
    "CARD": "pm_1SmokeCard",
}


def not_run_calls(path: Path) -> list[tuple[str, str, str | None]]:
    """(function, body, the answer comment's JSON or None) of every ``call`` in a not-run block."""
    found = []
    for block in markdown.blocks(path):
        if not block.is_shell or block.not_run_reason is None:
            continue
        lines = block.code.splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("call "):
                continue
            words = shlex.split(line)
            body = words[2] if len(words) > 2 else "{}"
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            answer = following[1:].strip() if following.startswith("# {") else None
            found.append((words[1], body, answer))
    return found


def fill(body: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in SAMPLE_VALUES, f"no sample value for ${name}: add one to SAMPLE_VALUES"
        return SAMPLE_VALUES[name]

    return re.sub(r"\$\{?([A-Z_]+)\}?", value, body)


def answer_keys(answer: str) -> set[str]:
    """The top-level keys of a shown answer like {"a":"x...","b":true,...}."""
    depth = 0
    keys = set()
    for match in re.finditer(r'[{}\[\]]|"([a-z_]+)"\s*:', answer):
        token = match.group(0)
        if token in "{[":
            depth += 1
        elif token in "}]":
            depth -= 1
        elif depth == 1:
            keys.add(match.group(1))
    return keys


DEPLOY = REPO / "docs" / "deploy.md"


def test_the_deploy_guide_calls_functions() -> None:
    called = [name for name, _, _ in not_run_calls(DEPLOY)]
    assert "create-checkout-session" in called
    assert "create-customer" in called


@pytest.mark.parametrize(
    ("name", "body", "answer"),
    [call for path in markdown.doc_files(REPO) for call in not_run_calls(path)],
)
def test_each_call_sends_a_body_its_operation_accepts(
    name: str, body: str, answer: str | None
) -> None:
    from app import registry
    from tools import openapi

    fn = registry.get(name.replace("-", "_"))
    assert fn.kind == "browser", f"{name} is not called by browsers"
    payload = json.loads(fill(body))
    try:
        openapi.request_model(fn).model_validate(payload)
    except ValidationError as error:
        pytest.fail(f"{name} refuses the docs' body {body}: {error}")
    if answer is not None and '"error"' not in answer:
        fields = set(openapi.response_model(fn).model_fields)
        assert answer_keys(answer) <= fields, (name, answer)


def test_the_check_refuses_a_field_the_operation_does_not_take() -> None:
    from app import registry
    from tools import openapi

    model = openapi.request_model(registry.get("create_subscription"))
    with pytest.raises(ValidationError):
        model.model_validate(
            {"price_id": SAMPLE_VALUES["PRICE"], "payment_method_id": "pm_card_visa"}
        )
    assert answer_keys('{"a":"x","b":{"c":1},"d":[{"e":2}],...}') == {"a", "b", "d"}
