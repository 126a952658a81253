"""Which parameters a route implements; every other one is refused with a 400 saying so.

Real Stripe acts on every parameter it accepts. A stand-in that accepted one and ignored it
would let a test pass here and fail on Stripe, so each route declares what it implements:

    Supports("customer", "items[].price", "metadata",
             "payment_behavior=allow_incomplete|default_incomplete")

A dotted path reaches into a hash (``payment_settings.save_default_payment_method``), ``[]``
into each element of a list, and a path names everything beneath it (``metadata`` allows any
key). ``=a|b`` limits the values. Anything in a request outside these paths (the typed
parameters have already rejected what Stripe itself does not know) is refused. Implementing a
parameter is adding its path here along with the code that honours it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.stripe_standin.api_errors import StripeAPIError, invalid_request

# Every endpoint takes ``expand``; the expander refuses what cannot be expanded.
ALWAYS = ("expand",)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    item: _Node | None = None  # for a list: what each element may hold
    values: frozenset[str] | None = None
    everything: bool = False  # a declared leaf: anything beneath it is implemented


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class Supports:
    def __init__(self, *paths: str) -> None:
        self.paths = tuple(sorted(set(paths) | set(ALWAYS)))
        self._root = _Node()
        for declared in self.paths:
            path, _, values = declared.partition("=")
            node = self._root
            for segment in path.split("."):
                name, is_list = segment.removesuffix("[]"), segment.endswith("[]")
                node = node.children.setdefault(name, _Node())
                if is_list:
                    node.item = node.item or _Node()
                    node = node.item
            node.everything = not values
            node.values = frozenset(values.split("|")) if values else None

    def check(self, params: dict[str, Any], endpoint: str) -> None:
        """Raises a 400 naming the first parameter (or value) ``endpoint`` does not implement."""
        self._walk(params, self._root, "", endpoint)

    def _walk(self, value: Any, node: _Node, path: str, endpoint: str) -> None:
        if node.values is not None:
            if _show(value) not in node.values:
                raise _unsupported(f"{path}={_show(value)}", path, endpoint)
            return
        if node.everything:
            return
        if isinstance(value, list) and node.item is not None:
            for index, element in enumerate(value):
                self._walk(element, node.item, f"{path}[{index}]", endpoint)
            return
        if not isinstance(value, dict) or not node.children:
            raise _unsupported(path, path, endpoint)
        for key, item in value.items():
            child = node.children.get(key)
            name = f"{path}[{key}]" if path else key
            if child is None:
                raise _unsupported(name, name, endpoint)
            self._walk(item, child, name, endpoint)


def _unsupported(what: str, param: str, endpoint: str) -> StripeAPIError:
    return invalid_request(
        f"The Stripe stand-in does not support {what} on {endpoint}: real Stripe acts on it, "
        "so a test relying on it could pass here and fail against Stripe. Implement it in "
        "devstack/stripe_standin (and declare it in the route's Supports) before using it.",
        param=param,
        code="parameter_unsupported_by_standin",
    )
