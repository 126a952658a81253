"""Fault injection rules for ``/v1`` requests (``POST /_standin/faults``).

A matching request consumes one use of the first matching rule and never reaches an endpoint:
``error`` answers Stripe's error body with the rule's status, ``timeout`` waits ``latency_ms``
and then drops the connection without an answer, ``disconnect`` drops it at once.

``rate_limit`` plays Stripe's rate limiter: matching requests up to ``per_second`` each second
pass (a bucket of that many tokens, refilled continuously); each one above it is refused with
Stripe's 429 ``rate_limit`` error, recorded in the request log like any answer. Like Stripe, it
sends no ``Stripe-Should-Retry`` header, so the SDK does not retry it (it retries only 409s,
5xx and lock timeouts).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from devstack.stripe_standin.api_errors import StripeAPIError

Kind = Literal["error", "timeout", "disconnect", "rate_limit"]
_KINDS = ("error", "timeout", "disconnect", "rate_limit")


@dataclass
class FaultRule:
    id: str
    kind: Kind
    method: str | None = None
    path_prefix: str | None = None
    status: int = 500
    error_type: str | None = None
    param: str | None = None  # error only: the parameter the error names (Stripe's error.param)
    times: int | None = None
    latency_ms: int = 0
    per_second: int | None = None  # rate_limit only
    matched: int = 0  # requests refused (rate_limit) or answered by the rule (the others)
    _tokens: float = field(default=0.0, repr=False)
    _refilled: float = field(default=0.0, repr=False)

    def admits(self) -> bool:
        """rate_limit: whether a request may pass now (taking one token if so)."""
        assert self.per_second is not None
        now = time.monotonic()
        self._tokens = min(
            float(self.per_second), self._tokens + (now - self._refilled) * self.per_second
        )
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

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
            param=self.param,
        )

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if not key.startswith("_")}


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Validate a rule as posted to the control API; raises ``ValueError``."""
        known = {
            "kind", "method", "path_prefix", "status", "error_type", "param", "times",
            "latency_ms", "per_second",
        }  # fmt: skip
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
        per_second = spec.get("per_second")
        if kind == "rate_limit":
            if not isinstance(per_second, int) or isinstance(per_second, bool) or per_second < 1:
                raise ValueError("a rate_limit rule needs per_second, a positive integer")
            status = 429
        elif per_second is not None:
            raise ValueError("per_second applies to rate_limit rules only")
        method = spec.get("method")
        with self._lock:
            rule = FaultRule(
                id=f"fault_{next(self._ids)}",
                kind=cast(Kind, kind),
                method=method.upper() if isinstance(method, str) else None,
                path_prefix=spec.get("path_prefix"),
                status=status,
                error_type=spec.get("error_type"),
                param=spec.get("param"),
                times=times,
                latency_ms=latency,
                per_second=per_second,
                _tokens=float(per_second or 0),
                _refilled=time.monotonic(),
            )
            self._rules.append(rule)
        return rule

    def consume(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.kind == "rate_limit" and rule.admits():
                        continue  # under the rate: on to the next rule, or to the endpoint
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
