"""Stripe's /v1 API surface, read from stripe-python's services (generated from Stripe's spec).

Each service method of the SDK ends in ``self._request("post", "/v1/customers/{customer}"...)``;
reading those calls gives every endpoint Stripe has for the pinned API version, and which SDK
method calls it. The router uses it to refuse, with a 400 that says so, a real endpoint the
stand-in does not implement (and to prefer ``/v1/subscriptions/search`` over
``/v1/subscriptions/{id}``, as Stripe does); the tests use it to find the stand-in routes
that nothing calls.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

_ROOT = ("stripe._v1_services", "V1Services")


@dataclass(frozen=True)
class Endpoint:
    method: str  # GET, POST, DELETE
    template: str  # /v1/customers/{customer}
    sdk: str  # customers.update, customers.payment_methods.list

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        return template_regex(self.template)

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.template.split("/") if part and not part.startswith("{"))


def template_regex(template: str) -> re.Pattern[str]:
    escaped = re.escape(template)
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", escaped) + "$")


def _requests_in(method: Callable[..., object]) -> list[tuple[str, str]]:
    """The (HTTP method, path template) of each ``self._request(...)`` call in a method."""
    try:
        tree = ast.parse(inspect.getsource(method).strip().replace("\n    ", "\n"))
    except (OSError, TypeError, SyntaxError):
        return []
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "_request"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
        ):
            continue
        path = node.args[1]
        if isinstance(path, ast.Call) and isinstance(path.func, ast.Attribute):
            path = path.func.value  # "/v1/x/{id}".format(...)
        if isinstance(path, ast.Constant) and str(path.value).startswith("/v1/"):
            found.append((str(node.args[0].value).upper(), str(path.value)))
    return found


def _walk(module: str, name: str, prefix: str, into: list[Endpoint]) -> None:
    service = getattr(importlib.import_module(module), name)
    for attribute, member in vars(service).items():
        if attribute.startswith("_") or attribute.endswith("_async") or not callable(member):
            continue
        for method, template in _requests_in(member):
            into.append(Endpoint(method, template, f"{prefix}{attribute}"))
    children = getattr(importlib.import_module(module), "_subservices", {})
    for attribute, (child_module, child_name) in children.items():
        _walk(child_module, child_name, f"{prefix}{attribute}.", into)


@functools.cache
def stripe_endpoints() -> tuple[Endpoint, ...]:
    """Every /v1 endpoint stripe-python can call."""
    found: list[Endpoint] = []
    _walk(*_ROOT, "", found)
    unique = {(e.method, e.template, e.sdk): e for e in found}
    return tuple(unique.values())


def best_match(method: str, path: str, templates: list[str]) -> str | None:
    """The template a Stripe request path matches, literal segments beating parameters."""
    matching = [t for t in templates if template_regex(t).match(path)]
    if not matching:
        return None
    return max(matching, key=lambda t: sum(1 for p in t.split("/") if p and p[0] != "{"))


def stripe_template(method: str, path: str) -> str | None:
    """The template of the real Stripe endpoint ``method path`` calls, if there is one."""
    templates = sorted({e.template for e in stripe_endpoints() if e.method == method})
    return best_match(method, path, templates)
