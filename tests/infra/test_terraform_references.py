"""What `terraform validate` would catch in the files no test can evaluate (no provider here):
every ``var.``, ``local.`` and ``module.plan.`` reference resolves, and every ``each.value.X``
in a resource that iterates over functions is a field the plan module really computes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.infra import BASE_VARS, INFRA, evaluate, load_tf, real_manifest, tf_files

MODULE = INFRA / "modules" / "function-plan"


def names_declared(files: list[Path], block: str) -> set[str]:
    found: set[str] = set()
    for path in files:
        for entry in load_tf(path).get(block, []):
            found.update(name.strip('"') for name in entry if not name.startswith("__"))
    return found


def locals_declared(files: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in files:
        for entry in load_tf(path).get("locals", []):
            found.update(name for name in entry if not name.startswith("__"))
    return found


def references(files: list[Path], prefix: str) -> dict[str, str]:
    pattern = re.compile(rf"(?<![\w.]){re.escape(prefix)}([a-z_][a-z0-9_]*)")
    found: dict[str, str] = {}
    for path in files:
        for match in pattern.finditer(path.read_text()):
            found.setdefault(match.group(1), path.name)
    return found


def root_files() -> list[Path]:
    return [path for path in tf_files() if path.parent == INFRA]


def module_files() -> list[Path]:
    return sorted(MODULE.glob("*.tf"))


@pytest.mark.parametrize("files", [root_files, module_files], ids=["root", "module"])
def test_every_variable_and_local_referenced_is_declared(files: Any) -> None:
    chosen = files()
    variables = names_declared(chosen, "variable")
    local_names = locals_declared(chosen)
    missing = [
        f"{where}: var.{name}"
        for name, where in references(chosen, "var.").items()
        if name not in variables
    ]
    missing += [
        f"{where}: local.{name}"
        for name, where in references(chosen, "local.").items()
        if name not in local_names
    ]
    assert missing == []


def test_module_outputs_used_by_the_root_exist() -> None:
    outputs = names_declared(module_files(), "output")
    used = references(root_files(), "module.plan.")
    assert used
    assert [
        f"{where}: module.plan.{name}" for name, where in used.items() if name not in outputs
    ] == []


@pytest.fixture(scope="module")
def function_fields(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    result = evaluate(tmp_path_factory.mktemp("fields"), real_manifest(), dict(BASE_VARS))
    assert result.ok, result.error
    first = next(iter(result.outputs["functions"].values()))
    return set(first)


def test_each_value_fields_are_computed_by_the_plan(function_fields: set[str]) -> None:
    iterated = {
        "local.functions",
        "local.public_functions",
        "local.private_functions",
        "local.event_functions",
        "local.job_functions",
    }
    checked = 0
    problems = []
    for path in root_files():
        for entry in load_tf(path).get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    if name.startswith("__"):
                        continue
                    for_each = str(body.get("for_each", ""))
                    text = str(body)
                    if (
                        any(f"${{{source}}}" == for_each for source in iterated)
                        or "fn.firestore" in for_each
                        or "fn.publishes" in for_each
                    ):
                        fields = function_fields
                    elif "module.plan.secret_bindings" in for_each:
                        fields = {"function", "secret"}
                    else:
                        continue
                    for field in re.findall(r"each\.value\.([a-z_]+)", text):
                        checked += 1
                        if field not in fields:
                            problems.append(f"{path.name}: {rtype}.{name}: each.value.{field}")
    assert checked > 10
    assert problems == []
