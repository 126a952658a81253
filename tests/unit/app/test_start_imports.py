"""What a cold instance imports: only what its function uses.

``stripe.params`` is a package of TypedDicts (~10 ms of CPU to import, measured in
docs/performance.md); stripe-python's own services import it under ``TYPE_CHECKING`` only, and
the operations use its types only in annotations, so no instance needs it at start. The
entitlement rules and the catalog (~20-30 ms) are loaded only by the functions that use them.
"""

from __future__ import annotations

import json
import textwrap

from devstack.stack import REPO_ROOT, read_env_file
from tests.support import fresh_interpreter

# A fresh interpreter importing every function's target module, as the instances do.
PROGRAM = textwrap.dedent(
    """
    import importlib, json, sys
    from app import registry
    for fn in registry.FUNCTIONS:
        importlib.import_module(fn.target.partition(":")[0])
    print(json.dumps({
        "targets": len(registry.FUNCTIONS),
        "stripe": "stripe" in sys.modules,
        "params": sorted(m for m in sys.modules if m.startswith("stripe.params")),
    }))
    """
)


def test_no_function_imports_stripes_parameter_types_at_start() -> None:
    report = json.loads(fresh_interpreter.run(PROGRAM)[-1])
    assert report["targets"] > 10
    assert report["stripe"]  # the operations were really imported
    assert report["params"] == []


# The functions whose work reads the entitlement rules (and the catalog behind them): the
# webhook and reconcile write entitlements, retrieve-subscription refreshes one, get-usage
# reads each plan's quotas from the catalog. Every other function answers without them, and
# loading them at start cost ~20-30 ms of CPU (docs/performance.md).
NEEDS_THE_CATALOG = {"stripe_webhook", "reconcile", "retrieve_subscription", "get_usage"}

WITHOUT_THE_CATALOG = textwrap.dedent(
    """
    import importlib, json, sys
    from app import registry
    modules = sorted({
        fn.target.partition(":")[0] for fn in registry.FUNCTIONS if fn.name not in set(sys.argv[1:])
    })
    for module in modules:
        importlib.import_module(module)
    print(json.dumps({
        "modules": modules,
        "loaded": sorted(
            m for m in sys.modules
            if m == "billing.catalog" or m.startswith(("billing.entitlements.", "billing.usage.plans"))
        ),
    }))
    """
)


def test_only_the_functions_that_use_entitlement_rules_load_them_and_the_catalog_at_start() -> None:
    report = json.loads(fresh_interpreter.run(WITHOUT_THE_CATALOG, *NEEDS_THE_CATALOG)[-1])
    assert "billing.operations.subscriptions" in report["modules"]  # create, handle: imported
    assert "billing.operations.payment_methods" in report["modules"]
    assert report["loaded"] == []


# main.py as an instance runs it (FUNCTION_TARGET set: settings checked, the target imported
# and built), then whether pydantic ever looked for plugins: its loader keeps what it found
# (a dict, empty when none is installed) once it has scanned the installed packages' entry
# points, which costs every cold start 4-8 ms of CPU (docs/performance.md).
PLUGINS = textwrap.dedent(
    """
    import json, sys
    import main
    from pydantic.plugin import _loader
    from billing.config import BillingSettings
    print(json.dumps({
        "models_built": BillingSettings.__pydantic_complete__,
        "scanned": _loader._plugins is not None,
        "setting": __import__("os").environ.get("PYDANTIC_DISABLE_PLUGINS"),
    }))
    """
)


def _start(extra: dict[str, str]) -> dict[str, object]:
    env = {**read_env_file(REPO_ROOT / ".env.example"), "FUNCTION_TARGET": "retrieve_subscription"}
    return json.loads(fresh_interpreter.run(PLUGINS, env=env | extra)[-1])


def test_an_instance_builds_its_models_without_scanning_for_pydantic_plugins() -> None:
    report = _start({})
    assert report == {"models_built": True, "scanned": False, "setting": "__all__"}


def test_a_deployment_that_sets_the_variable_keeps_its_choice() -> None:
    # An empty value enables every plugin (pydantic's own reading of the variable): the
    # default above must not override what a deployment says.
    assert _start({"PYDANTIC_DISABLE_PLUGINS": ""}) == {
        "models_built": True,
        "scanned": True,
        "setting": "",
    }
