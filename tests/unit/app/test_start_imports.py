"""What a cold instance imports: Stripe's request-parameter types are for the type checker only.

``stripe.params`` is a package of TypedDicts (~10 ms of CPU to import, measured in
docs/performance.md); stripe-python's own services import it under ``TYPE_CHECKING`` only, and
the operations use its types only in annotations, so no instance needs it at start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from devstack.stack import REPO_ROOT

FUNCTIONS = REPO_ROOT / "functions"

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
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(FUNCTIONS)}
    result = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", PROGRAM],
        cwd=FUNCTIONS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["targets"] > 10
    assert report["stripe"]  # the operations were really imported
    assert report["params"] == []
