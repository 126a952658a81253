"""Fault injection rules for ``/v1`` requests (``POST /_standin/faults``).

A matching request consumes one use of the first matching rule and never reaches an endpoint:
``error`` answers Stripe's error body with the rule's status, ``timeout`` waits ``latency_ms``
and then drops the connection without an answer, ``disconnect`` drops it at once.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from devstack.stripe_standin.errors import StripeAPIError

Kind = Literal["error", "timeout", "disconnect"]
_KINDS = ("error", "timeout", "disconnect")


@dataclass
class FaultRule:
    id: str
    kind: Kind
    method: str | None = None
    path_prefix: str | None = None
    status: int = 500
    error_type: str | None = None
    times: int | None = None
    latency_ms: int = 0
    matched: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_prefix is None or path.startswith(self.path_prefix)
        )

    def error(self) -> StripeAPIError:
        if self.status == 429:
            return StripeAPIError(
                429,
                self.error_type or "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://docs.stripe.com/rate-limits.",
                code="rate_limit",
            )
        default_type = "api_error" if self.status >= 500 else "invalid_request_error"
        return StripeAPIError(
            self.status,
            self.error_type or default_type,
            "An unknown error occurred (injected by the Stripe stand-in).",
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Validate a rule as posted to the control API; raises ``ValueError``."""
        known = {"kind", "method", "path_prefix", "status", "error_type", "times", "latency_ms"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        kind = spec.get("kind", "error")
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}")
        times = spec.get("times")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer or null")
        status = spec.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        latency = spec.get("latency_ms") or 0
        if not isinstance(latency, int) or latency < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        method = spec.get("method")
        with self._lock:
            rule = FaultRule(
                id=f"fault_{next(self._ids)}",
                kind=cast(Kind, kind),
                method=method.upper() if isinstance(method, str) else None,
                path_prefix=spec.get("path_prefix"),
                status=status,
                error_type=spec.get("error_type"),
                times=times,
                latency_ms=latency,
            )
            self._rules.append(rule)
        return rule

    def consume(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.matched += 1
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
