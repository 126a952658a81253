"""Fault injection rules for ``/v1`` requests (``POST /_standin/faults``).

A matching request consumes one use of the first matching rule and never reaches an endpoint:
``error`` answers Stripe's error body with the rule's status, ``timeout`` waits ``latency_ms``
and then drops the connection without an answer, ``disconnect`` drops it at once.

``hold`` is no fault Stripe has: it lets a test freeze a request at a chosen step, so that
another request surely runs while the first is inside (a race made certain, not hoped for).
A matching request waits until the rule is released (``POST /_standin/faults/{id}/release``,
or ``DELETE /_standin/faults``) or ``latency_ms`` has passed, then goes on to the endpoint
as if nothing had happened. ``GET /_standin/faults/{id}`` says how many it has held
(``matched``) and whether it was released, even once its ``times`` are used up.

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
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

from devstack.stripe_standin.api_errors import StripeAPIError

Kind = Literal["error", "timeout", "disconnect", "rate_limit", "hold"]
_KINDS = ("error", "timeout", "disconnect", "rate_limit", "hold")
# A hold that nobody releases ends by itself: a forgotten one must not hang a request forever.
MAX_HOLD_MS = 120_000


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
    matched: int = 0  # requests refused (rate_limit), held (hold) or answered (the others)
    released: bool = False  # hold only
    _release: threading.Event = field(default_factory=threading.Event, repr=False)
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

    def hold(self) -> None:
        """hold: wait for the release, or for ``latency_ms`` at most."""
        self._release.wait(self.latency_ms / 1000)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._holds: dict[str, FaultRule] = {}  # kept after their uses run out, until cleared
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
        if kind == "hold" and not 1 <= latency <= MAX_HOLD_MS:
            raise ValueError(f"a hold rule needs latency_ms, its longest wait (1-{MAX_HOLD_MS})")
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
            if rule.kind == "hold":
                self._holds[rule.id] = rule
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

    def get(self, rule_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._holds.get(rule_id) or next(
                (rule for rule in self._rules if rule.id == rule_id), None
            )
            return found.to_json() if found else None

    def release(self, rule_id: str) -> bool:
        """Lets the requests a hold rule holds (and any it would hold) go on; False if unknown."""
        with self._lock:
            rule = self._holds.get(rule_id)
            if rule is None:
                return False
            rule.released = True
            if rule in self._rules:
                self._rules.remove(rule)
        rule._release.set()
        return True

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            holds, self._holds = list(self._holds.values()), {}
        for rule in holds:  # nothing stays frozen once the rules are gone
            rule.released = True
            rule._release.set()
