"""What a cold instance imports: Stripe's request-parameter types are for the type checker only.

``stripe.params`` is a package of TypedDicts (~10 ms of CPU to import, measured in
docs/performance.md); stripe-python's own services import it under ``TYPE_CHECKING`` only, and
the operations use its types only in annotations, so no instance needs it at start.
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
