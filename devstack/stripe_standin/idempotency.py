"""Idempotency keys, per API key, safe under concurrent requests.

Like Stripe (API v1): the first request with a key claims it; its status and body are saved once
the endpoint has run (errors included) and replayed for the same parameters; different
parameters or a different endpoint get an ``idempotency_error``; while the first request is
still running a second one gets 409 ``idempotency_key_in_use``. Requests that fail parameter
validation (or never reach an endpoint) release their claim and save nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KEY_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    request_id: str


@dataclass(frozen=True)
class Claimed:
    scope: tuple[str, str]
    token: object = field(default_factory=object)


@dataclass(frozen=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True)
class InFlight:
    pass


@dataclass(frozen=True)
class Mismatch:
    message: str


Begin = Claimed | Replay | InFlight | Mismatch


@dataclass
class _Entry:
    endpoint: str
    params: str
    created: int
    token: object
    response: StoredResponse | None = None


class IdempotencyStore:
    def __init__(self, now: Callable[[], int]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def begin(self, api_key: str, key: str, method: str, path: str, params: Any) -> Begin:
        scope = (api_key, key)
        endpoint = f"{method} {path}"
        canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
        with self._lock:
            self._prune()
            entry = self._entries.get(scope)
            if entry is None:
                claim = Claimed(scope)
                self._entries[scope] = _Entry(endpoint, canonical, self._now(), claim.token)
                return claim
            if entry.endpoint != endpoint:
                return Mismatch(
                    "Keys for idempotent requests can only be used for the same endpoint they "
                    f"were first used for ('{entry.endpoint}' vs '{endpoint}'). Try using a key "
                    f"other than '{key}' if you meant to execute a different request."
                )
            if entry.params != canonical:
                return Mismatch(
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you meant "
                    "to execute a different request."
                )
            if entry.response is None:
                return InFlight()
            return Replay(entry.response)

    def complete(self, claim: Claimed, response: StoredResponse) -> None:
        with self._lock:
            entry = self._entries.get(claim.scope)
            if entry is not None and entry.token is claim.token:
                entry.response = response

    def release(self, claim: Claimed) -> None:
        with self._lock:
            entry = self._entries.get(claim.scope)
            if entry is not None and entry.token is claim.token and entry.response is None:
                del self._entries[claim.scope]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _prune(self) -> None:
        horizon = self._now() - KEY_TTL_SECONDS
        stale = [
            scope
            for scope, entry in self._entries.items()
            if entry.created < horizon and entry.response is not None
        ]
        for scope in stale:
            del self._entries[scope]
