"""What a cold instance imports: only what its function uses.

``stripe.params`` is a package of TypedDicts (~10 ms of CPU to import, measured in
docs/performance.md); stripe-python's own services import it under ``TYPE_CHECKING`` only, and
the operations use its types only in annotations, so no instance needs it at start. The
entitlement rules and the catalog (~20-30 ms) are loaded only by the functions that use them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
# and built), and what the instance holds before its first request.
#
# Pydantic's plugins: its loader keeps what it found (a dict, empty when none is installed)
# once it has scanned the installed packages' entry points, which costs every cold start
# 4-8 ms of CPU (docs/performance.md).
#
# The clients' libraries: what the first request's client building would import (~250 ms of
# CPU for Firestore's) is imported while the instance starts, so an instance already running
# (a minimum instance) answers its first call without it; the catalog the plan rules read is
# loaded and checked then too.
STARTED = textwrap.dedent(
    """
    import json, os, sys
    import main
    from pydantic.plugin import _loader
    from billing.config import BillingSettings
    catalog = sys.modules.get("billing.catalog")
    print(json.dumps({
        "models_built": BillingSettings.__pydantic_complete__,
        "plugins_scanned": _loader._plugins is not None,
        "setting": os.environ.get("PYDANTIC_DISABLE_PLUGINS"),
        "firestore": "google.cloud.firestore" in sys.modules,
        "customer_store": "billing.state.customers" in sys.modules,
        "stripe_client": "billing.stripe_api.client" in sys.modules,
        "catalog_loaded": bool(catalog and catalog.load.cache_info().currsize),
        # Clients live on the instance's Runtime, built on first use.
        "clients_built": sys.modules["billing.runtime"]._instance is not None,
    }))
    """
)


def _start(target: str, extra: dict[str, str] | None = None) -> dict[str, object]:
    env = {**read_env_file(REPO_ROOT / ".env.example"), "FUNCTION_TARGET": target}
    report: dict[str, object] = json.loads(
        fresh_interpreter.run(STARTED, env=env | (extra or {}))[-1]
    )
    return report


def test_an_instance_starts_with_its_clients_libraries_and_without_scanning_for_plugins() -> None:
    assert _start("retrieve_subscription") == {
        "models_built": True,
        "plugins_scanned": False,
        "setting": "__all__",
        "firestore": True,
        "customer_store": True,
        "stripe_client": True,
        "catalog_loaded": True,
        "clients_built": False,  # imported only: the worker is forked after the start
    }


def test_list_plans_starts_without_firestore_and_a_deployment_keeps_its_plugin_choice() -> None:
    # list-plans reads Stripe alone. An empty PYDANTIC_DISABLE_PLUGINS enables every plugin
    # (pydantic's own reading of it): the default must not override what a deployment says.
    report = _start(
        "list_plans", {"PYDANTIC_DISABLE_PLUGINS": "", "ALLOWED_PRICE_IDS": "price_basic_monthly"}
    )
    assert report["firestore"] is False
    assert report["stripe_client"] is True
    assert report["catalog_loaded"] is False
    assert (report["plugins_scanned"], report["setting"]) == (True, "")


# The catalog read at start fails its checks: a price referring to no product of the catalog.
BROKEN_CATALOG = textwrap.dedent(
    """
    import json, pathlib
    real = pathlib.Path.read_text
    def read_text(self, *args, **kwargs):
        text = real(self, *args, **kwargs)
        if self.name != "catalog.json":
            return text
        data = json.loads(text)
        next(iter(data["prices"].values()))["product"] = "no_such_product"
        return json.dumps(data)
    pathlib.Path.read_text = read_text
    import main
    """
)


def test_an_instance_whose_catalog_fails_its_checks_exits_at_start_naming_it() -> None:
    env = {
        **read_env_file(REPO_ROOT / ".env.example"),
        "FUNCTION_TARGET": "get_usage",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(fresh_interpreter.FUNCTIONS),
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", BROKEN_CATALOG],
        cwd=fresh_interpreter.FUNCTIONS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["severity"] == "CRITICAL"
    assert "catalog.json" in line["message"]
    assert "no_such_product" in line["message"]
