"""Small, real in-memory implementations of the functions' ports, for unit tests."""

from __future__ import annotations

import threading

from billing.auth import Caller
from billing.errors import Unauthenticated
from billing.store import CustomerLink


class FakeVerifier:
    """Accepts ``token-<uid>`` for the callers registered with :meth:`add`."""

    def __init__(self) -> None:
        self._callers: dict[str, Caller] = {}

    def add(self, uid: str, email: str | None = None) -> str:
        self._callers[f"token-{uid}"] = Caller(uid=uid, email=email, email_verified=True)
        return f"token-{uid}"

    def verify(self, token: str) -> Caller:
        try:
            return self._callers[token]
        except KeyError:
            raise Unauthenticated("The ID token is invalid.", code="invalid_token") from None


class InMemoryCustomers:
    """The uid <-> customer mapping with Firestore's create-precondition semantics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_uid: dict[str, CustomerLink] = {}
        self.by_customer: dict[str, str] = {}

    def get(self, uid: str) -> CustomerLink | None:
        with self._lock:
            return self.by_uid.get(uid)

    def uid_for(self, customer_id: str) -> str | None:
        with self._lock:
            return self.by_customer.get(customer_id)

    def link(self, uid: str, customer_id: str, email: str | None) -> bool:
        with self._lock:
            if uid in self.by_uid or customer_id in self.by_customer:
                return False
            self.by_uid[uid] = CustomerLink(uid, customer_id, email, None)
            self.by_customer[customer_id] = uid
            return True
