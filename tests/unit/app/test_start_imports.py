"""What a cold instance imports: only what its function uses.

``stripe.params`` is a package of TypedDicts (~10 ms of CPU to import, measured in
docs/performance.md); stripe-python's own services import it under ``TYPE_CHECKING`` only, and
the operations use its types only in annotations, so no instance needs it at start. The
entitlement rules and the catalog (~20-30 ms) are loaded only by the functions that use them.
"""

from __future__ import annotations

import json
import textwrap

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
