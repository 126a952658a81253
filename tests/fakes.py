"""Small, real in-memory implementations of the functions' ports, for unit tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from billing.auth import Caller
from billing.errors import Unauthenticated
from billing.store import CustomerRecord


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
    """The uid <-> customer mapping with the Firestore store's preconditions.

    ``fail_link`` makes the next link() raise, as Firestore going down between the Stripe
    call and the write would.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[str, CustomerRecord] = {}
        self.by_customer: dict[str, str] = {}
        self.fail_link: Exception | None = None

    def get(self, uid: str) -> CustomerRecord | None:
        with self._lock:
            return self.records.get(uid)

    def begin(self, uid: str, email: str, name: str | None) -> tuple[CustomerRecord, bool]:
        with self._lock:
            if uid in self.records:
                return self.records[uid], False
            record = CustomerRecord(
                uid, None, email, name, uuid.uuid4().hex, datetime.now(UTC), version=0
            )
            self.records[uid] = record
            return record, True

    def link(self, record: CustomerRecord, customer_id: str) -> bool:
        with self._lock:
            if self.fail_link is not None:
                error, self.fail_link = self.fail_link, None
                raise error
            current = self.records[record.uid]
            if current.version != record.version:
                return False
            self.records[record.uid] = replace(
                current, customer_id=customer_id, version=current.version + 1
            )
            self.by_customer[customer_id] = record.uid
            return True

    def release(self, record: CustomerRecord) -> None:
        with self._lock:
            current = self.records.get(record.uid)
            if current is not None and current.version == record.version:
                del self.records[record.uid]

    def uid_for(self, customer_id: str) -> str | None:
        with self._lock:
            return self.by_customer.get(customer_id)

    def linked(self) -> Iterator[tuple[str, str]]:
        with self._lock:
            pairs = [(uid, cus) for cus, uid in self.by_customer.items()]
        yield from sorted(pairs)
