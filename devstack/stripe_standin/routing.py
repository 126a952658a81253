"""The endpoint registry: (method, path pattern) -> handler, its typed params, and what of
them it implements (:class:`Supports`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.stripe_standin.api_errors import invalid_request, unrecognized_url
from devstack.stripe_standin.endpoints import stripe_template, template_regex
from devstack.stripe_standin.expand import Expander
from devstack.stripe_standin.state import Origin, State
from devstack.stripe_standin.supports import Supports

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
    supports: Supports
    regex: re.Pattern[str]

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.pattern}"


def route(
    method: str, pattern: str, handler: Handler, params_type: object, supports: Supports
) -> Route:
    return Route(method.upper(), pattern, handler, params_type, supports, template_regex(pattern))


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._routes = routes
        seen = {(r.method, r.pattern) for r in routes}
        if len(seen) != len(routes):
            raise ValueError("duplicate route")

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for a request, as Stripe would route it; else a 400 (a Stripe endpoint the
        stand-in does not implement) or Stripe's 404 for an unknown URL."""
        real = stripe_template(method, path)
        for candidate in self._routes:
            found = candidate.regex.match(path) if candidate.method == method else None
            # /v1/subscriptions/search is search on Stripe, not a subscription called "search".
            if found and (real is None or _literals(candidate.pattern) >= _literals(real)):
                return candidate, found.groupdict()
        if real is not None:
            raise invalid_request(
                f"The Stripe stand-in does not implement {method} {real}: a test using it "
                "could pass here and fail against Stripe. Implement it in "
                "devstack/stripe_standin before using it.",
                code="endpoint_unsupported_by_standin",
            )
        raise unrecognized_url(method, path)

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)


def _literals(template: str) -> int:
    return sum(1 for part in template.split("/") if part and not part.startswith("{"))
