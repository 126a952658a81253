"""The archive Terraform deploys runs on the runtime requirements alone.

Cloud Build installs only requirements.txt, so any module a deployed function imports, at start
or lazily inside a function, must come from that closure (or the standard library, or the
package itself). Dev-only packages (PyYAML for the OpenAPI generator, pytest, ...) would be
missing in the cloud and fail at the first request that reaches the import.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from app import registry
from tests.support.infra import REPO

FUNCTIONS = REPO / "functions"


def normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def runtime_distributions() -> set[str]:
    names = set()
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(normalize(re.split(r"[=<>!~\[; ]", line)[0]))
    return names


def module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def under_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports at run time: at the top or inside functions."""
    tree = ast.parse(path.read_text())
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if under_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from billing import customers` imports the module billing.operations.customers.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def external_imports(root: Path, start: list[str]) -> dict[str, set[str]]:
    """Top-level external package -> the package modules that import it, from ``start`` on."""
    external: dict[str, set[str]] = {}
    seen: set[str] = set()
    todo = list(start)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = module_file(root, module)
        if path is None:
            continue
        for name in imports_of(path, module):
            top = name.split(".")[0]
            if module_file(root, top) is not None:
                todo.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                external.setdefault(top, set()).add(module)
    return external


def not_in_runtime(external: dict[str, set[str]]) -> list[str]:
    runtime = runtime_distributions()
    providers = importlib.metadata.packages_distributions()
    problems = []
    for top, importers in sorted(external.items()):
        distributions = {normalize(d) for d in providers.get(top, [])}
        if not distributions & runtime:
            found = ", ".join(sorted(distributions)) or "no installed distribution"
            problems.append(f"{top} ({found}) imported by {', '.join(sorted(importers))}")
    return problems


def deployed_entry_modules() -> list[str]:
    return ["main", *sorted({fn.target.partition(":")[0] for fn in registry.FUNCTIONS})]


def test_deployed_code_imports_only_runtime_requirements() -> None:
    external = external_imports(FUNCTIONS, deployed_entry_modules())
    # The walk reaches the lazily imported client libraries too, not just the top of main.py.
    assert {"stripe", "google", "jwt", "functions_framework"} <= set(external)
    assert not_in_runtime(external) == []


def test_the_scan_flags_a_dev_only_import_inside_a_function(tmp_path: Path) -> None:
    package = tmp_path / "billing"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (tmp_path / "main.py").write_text("from billing import report\n")
    (package / "report.py").write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                import pytest  # typing only: never imported at run time
            def render() -> str:
                import yaml
                return yaml.safe_dump({})
            """
        )
    )
    problems = not_in_runtime(external_imports(tmp_path, ["main"]))
    assert len(problems) == 1
    assert problems[0].startswith("yaml (pyyaml) imported by billing.report")


def test_every_target_builds_with_dev_only_packages_hidden() -> None:
    # The same check by running it: import every target and build its handler in a process
    # where any distribution outside requirements.txt cannot be imported.
    script = textwrap.dedent(
        f"""
        import importlib.abc, importlib.metadata, re, sys
        runtime = {sorted(runtime_distributions())!r}
        providers = importlib.metadata.packages_distributions()

        class DevOnly(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                dists = {{re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(top, [])}}
                if dists and not dists & set(runtime):
                    raise ImportError(f"{{name}} is not a runtime requirement")
                return None

        sys.meta_path.insert(0, DevOnly())
        from app import registry
        for fn in registry.FUNCTIONS:
            registry.build(fn)
        print("built", len(registry.FUNCTIONS))
        """
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        cwd=REPO,
        env={"PYTHONPATH": str(FUNCTIONS), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"built {len(registry.FUNCTIONS)}"
