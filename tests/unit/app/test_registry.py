"""The registry is the one list of functions: main.py, the stack and deployment agree with it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from app import registry
from devstack.stack import registry_functions

REPO = Path(__file__).resolve().parents[3]
MAIN = REPO / "functions" / "main.py"
DECORATORS = {"http": "http", "cloud_event": "cloudevent"}


def main_py_functions(source: Path = MAIN) -> dict[str, tuple[str, str]]:
    """Each entry point of main.py: (its functions-framework signature, the name it serves)."""
    found = {}
    for node in ast.parse(source.read_text()).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        kinds = [
            DECORATORS[d.attr]
            for d in node.decorator_list
            if isinstance(d, ast.Attribute) and d.attr in DECORATORS
        ]
        served = [
            call.args[0].value
            for call in ast.walk(node)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id in ("http", "event")
            and isinstance(call.args[0], ast.Constant)
        ]
        assert len(kinds) == 1, f"{node.name}: one functions_framework decorator"
        assert len(served) == 1, f"{node.name}: returns http(NAME)(...) or event(NAME)(...)"
        found[node.name] = (kinds[0], str(served[0]))
    return found


def test_main_py_declares_exactly_the_registry_each_with_its_signature() -> None:
    declared = main_py_functions()
    expected = {fn.name: (fn.signature, fn.name) for fn in registry.FUNCTIONS}
    assert declared == expected


def test_the_check_catches_a_renamed_entry_point(tmp_path: Path) -> None:
    renamed = tmp_path / "main.py"
    renamed.write_text(MAIN.read_text().replace("def retry_invoice(", "def retry_invoices("))
    expected = {fn.name: (fn.signature, fn.name) for fn in registry.FUNCTIONS}
    assert main_py_functions(renamed) != expected


def test_every_target_imports_and_is_callable() -> None:
    for fn in registry.FUNCTIONS:
        assert callable(registry.load_target(fn)), fn.name


def test_names_are_unique_and_deployable() -> None:
    names = [fn.name for fn in registry.FUNCTIONS]
    assert len(names) == len(set(names))
    for fn in registry.FUNCTIONS:
        # Cloud Functions names: lowercase letters, digits and dashes, at most 63 characters.
        assert fn.deployed_name.replace("-", "").isalnum()
        assert len(fn.deployed_name) <= 63


def test_unknown_function_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="not a function of this package"):
        registry.get("no_such_function")


def test_the_stack_runs_the_registry() -> None:
    specs = registry_functions()
    assert [spec.name for spec in specs] == [fn.name for fn in registry.FUNCTIONS]
    webhooks = [spec.name for spec in specs if spec.webhook]
    assert webhooks == [fn.name for fn in registry.FUNCTIONS if fn.kind == "webhook"]


def test_every_required_setting_is_a_setting_of_its_deployable() -> None:
    for fn in registry.FUNCTIONS:
        fields = registry.settings_class(fn.deployable).model_fields
        for name in fn.required_settings:
            assert name in fields, f"{fn.name} requires unknown setting {name}"


def test_manifest_is_json_with_every_function() -> None:
    data = json.loads(registry.render_manifest())
    assert set(data["functions"]) == {fn.deployed_name for fn in registry.FUNCTIONS}


def test_optional_secrets_are_settings_and_never_required() -> None:
    for fn in registry.FUNCTIONS:
        for secret in fn.optional_secrets:
            assert secret.lower() in registry.settings_class(fn.deployable).model_fields, secret
            assert secret.lower() not in fn.required_settings, (fn.name, secret)
            assert secret not in fn.secrets


def test_the_email_function_is_an_event_function_without_stripe() -> None:
    fn = registry.get("send_email")
    assert (fn.kind, fn.signature, fn.public) == ("event", "cloudevent", False)
    assert "stripe_secret_key" not in fn.required_settings
    entry = registry.manifest()["functions"]["send-email"]
    assert entry["secrets"] == []
    assert entry["optional_secrets"] == ["SMTP_PASSWORD"]
    assert entry["settings"] == ["APP_URL", "MAIL_FROM", "PRODUCT_NAME", "SMTP_HOST"]


def test_manifest_says_how_each_instance_serves() -> None:
    data = json.loads(registry.render_manifest())
    for fn in registry.FUNCTIONS:
        instance = data["functions"][fn.deployed_name]["instance"]
        assert instance["threads"] >= instance["concurrency"] >= 1
        # More than one request at a time is only allowed with a whole vCPU.
        assert instance["concurrency"] == 1 or float(instance["cpu"]) >= 1
