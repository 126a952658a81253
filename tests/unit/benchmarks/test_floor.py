"""The library floor of the cold-start benchmark is a floor: it loads what every billing
function loads of the four libraries, and nothing a function does not.

Too little (bare ``import pydantic``, which loads almost nothing of pydantic 2) and every
function's ratio to it reads high; too much and the ratios flatter. The lightest function,
create-customer, up to the clients its first request builds, is the reference.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from devstack.stack import REPO_ROOT
from tests.support import fresh_interpreter

LIBRARIES = ("pydantic", "pydantic_core", "stripe", "google", "functions_framework", "flask")

FLOOR = textwrap.dedent(
    """
    import json, sys, runpy
    runpy.run_path(sys.argv[1])
    print(json.dumps(sorted(sys.modules)))
    """
)

FUNCTION = textwrap.dedent(
    """
    import json, sys
    import functions_framework  # an instance runs under it
    from app import registry
    registry.handler("create_customer")
    from billing.config import load_settings
    from billing.runtime import build_firestore, build_stripe
    settings = load_settings()
    build_stripe(settings)
    build_firestore(settings)
    print(json.dumps(sorted(sys.modules)))
    """
)


def _modules(program: str, *args: str, only: tuple[str, ...] | None = LIBRARIES) -> set[str]:
    env = {
        "GOOGLE_CLOUD_PROJECT": "demo-floor",
        "STRIPE_SECRET_KEY": "sk_test_floor",
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
    }
    loaded = json.loads(fresh_interpreter.run(program, *args, env=env)[-1])
    return {m for m in loaded if only is None or m.split(".")[0] in only}


def test_the_floor_loads_what_every_function_loads_of_its_libraries_and_no_more() -> None:
    floor = _modules(FLOOR, str(REPO_ROOT / "benchmarks" / "floor" / "main.py"))
    function = _modules(FUNCTION)
    # Not a bare-import floor: pydantic's field and type machinery, Stripe's client.
    assert {"pydantic.main", "pydantic.fields", "pydantic.types", "stripe._stripe_client"} <= floor
    assert "google.cloud.firestore_v1.client" in floor
    # Nothing the lightest function does not load itself.
    assert floor - function == set()


def test_the_floor_loads_no_module_at_all_that_the_function_does_not(tmp_path: Path) -> None:
    # Not only of the four libraries: a floor that also loaded, say, the mail function's
    # libraries or a heavy package of the closure would read high and flatter every ratio.
    # What the harness itself loads (runpy running an empty file) is no part of the floor.
    empty = tmp_path / "empty.py"
    empty.write_text("")
    harness = _modules(FLOOR, str(empty), only=None)
    floor = _modules(FLOOR, str(REPO_ROOT / "benchmarks" / "floor" / "main.py"), only=None)
    function = _modules(FUNCTION, only=None)
    assert floor - harness - function == set()
