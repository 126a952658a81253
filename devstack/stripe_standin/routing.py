"""The endpoint registry: (method, path pattern) -> handler and its typed params."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.stripe_standin.expand import Expander
from devstack.stripe_standin.store import Origin, State

JSONDict = dict[str, Any]


@dataclass
class ApiContext:
    """What a handler gets besides its path and body parameters."""

    state: State
    origin: Origin
    base_url: str
    expander: Expander
    # ``pm_card_visa`` used twice in one request (``payment_method`` and
    # ``invoice_settings[default_payment_method]``) means the same new PaymentMethod.
    test_card_ids: dict[str, str] = field(default_factory=dict)

    def render(self, obj: JSONDict, params: JSONDict) -> JSONDict:
        expand: list[str] = params.get("expand") or []
        return self.expander.render(obj, expand)


Handler = Callable[[ApiContext, dict[str, str], JSONDict], JSONDict]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    params_type: object  # a TypedDict from ``stripe.params``
    regex: re.Pattern[str]


def route(method: str, pattern: str, handler: Handler, params_type: object) -> Route:
    regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$")
    return Route(method.upper(), pattern, handler, params_type, regex)


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._routes = routes
        seen = {(r.method, r.pattern) for r in routes}
        if len(seen) != len(routes):
            raise ValueError("duplicate route")

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for candidate in self._routes:
            if candidate.method != method:
                continue
            found = candidate.regex.match(path)
            if found:
                return candidate, found.groupdict()
        return None

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)
