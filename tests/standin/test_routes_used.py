"""Every stand-in route is one the product or its tests call: a behaviour nobody uses is removed.

The calls are read from the code (every ``<client>.v1.<service>.<method>(...)`` in the
functions, the frontend's stand-in ``devstack/stripejs.py``, the integration tests and the
benchmarks) and mapped to Stripe endpoints through stripe-python's own services.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from devstack.stripe_standin.endpoints import stripe_endpoints
from devstack.stripe_standin.resources import ROUTES

REPO = Path(__file__).resolve().parents[2]
CALLERS = [
    REPO / "functions",
    REPO / "devstack" / "stripejs.py",
    REPO / "tests" / "integration",
    REPO / "tests" / "reliability",
    REPO / "tests" / "support",
    REPO / "benchmarks",
]
# Kept though unused today, for a reason that is not "it might be handy":
KEPT = {
    ("GET", "/v1/events/{}"): "the stand-in's tests check an event's delivery state",
}


def _shape(template: str) -> str:
    return re.sub(r"\{\w+\}", "{}", template)


def _sdk_calls(path: Path) -> set[str]:
    calls = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        names = []
        target = node.func
        while isinstance(target, ast.Attribute):
            names.append(target.attr)
            target = target.value
        names.reverse()
        if "v1" in names[:-1]:
            calls.add(".".join(names[names.index("v1") + 1 :]))
    return calls


RAW_METHODS = {
    "get": "GET",
    "get_all": "GET",
    "post": "POST",
    "post_keyed": "POST",
    "delete": "DELETE",
}


def _raw_calls(path: Path) -> set[tuple[str, str]]:
    """``raw.get(client, "/v1/...")``, ``raw.get_all`` (every page), ``raw.post``,
    ``raw.post_keyed`` and ``raw.delete`` calls: the method and the path itself, f-string
    parts as ``{}`` (so a call's path is written out, not built in a variable)."""
    reads = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RAW_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "raw"
            and len(node.args) >= 2
        ):
            continue
        target, method = node.args[1], RAW_METHODS[node.func.attr]
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            reads.add((method, target.value))
        elif isinstance(target, ast.JoinedStr):
            parts = [str(v.value) if isinstance(v, ast.Constant) else "{}" for v in target.values]
            reads.add((method, "".join(parts)))
    return reads


def used_endpoints() -> set[tuple[str, str]]:
    files = [f for root in CALLERS for f in ([root] if root.is_file() else root.rglob("*.py"))]
    called = set().union(*(_sdk_calls(f) for f in files))
    raw = set().union(*(_raw_calls(f) for f in files))
    return {(e.method, _shape(e.template)) for e in stripe_endpoints() if e.sdk in called} | raw


def test_the_scan_finds_what_the_product_calls() -> None:
    used = used_endpoints()
    assert ("POST", "/v1/invoices/{}/pay") in used  # retry-invoice
    assert ("POST", "/v1/payment_intents/{}/confirm") in used  # stripejs
    assert ("POST", "/v1/setup_intents") in used  # create-setup-intent, by raw.post
    assert ("POST", "/v1/subscriptions") in used  # create-subscription, by raw.post_keyed
    assert ("DELETE", "/v1/subscriptions/{}") in used  # abandoning a checkout, by raw.delete


def test_every_stand_in_route_is_called_by_the_product_or_its_tests() -> None:
    used = used_endpoints()
    routes = {(r.method, _shape(r.pattern)) for r in ROUTES}
    unused = routes - used
    assert unused == set(KEPT), f"remove these routes or use them: {sorted(unused - set(KEPT))}"
