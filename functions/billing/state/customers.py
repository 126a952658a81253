"""Firestore documents the functions own, and the only code that touches them.

``billing_customers/{uid}``                 uid -> Stripe customer (one per user, ever);
                                            see doc_id() for uids Firestore cannot take
``billing_customers_by_stripe_id/{cus_id}`` Stripe customer -> uid (webhooks look up by this)

A user's document is created *before* the Stripe customer, as a pending claim holding the
attempt's idempotency key and parameters, so a creation interrupted between Stripe and
Firestore is finished by the next call instead of starting a second customer.
Each method is one Firestore round trip, counted in :mod:`core.call_counts`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition
from google.cloud import firestore

from core import call_counts
from core.firestore import doc_id, firestore_retry, get_document

CUSTOMERS = "billing_customers"
CUSTOMERS_BY_STRIPE_ID = "billing_customers_by_stripe_id"


@dataclass(frozen=True)
class CustomerRecord:
    uid: str
    customer_id: str | None  # None while the creation is pending
    email: str | None
    name: str | None
    attempt: str  # part of the Stripe idempotency key of the creation
    started_at: datetime | None
    version: Any  # Firestore update_time, for the compare-and-set in link()


class Customers(Protocol):
    """The uid <-> Stripe customer mapping (Firestore in production, in-memory in unit tests)."""

    def get(self, uid: str) -> CustomerRecord | None: ...
    def begin(self, uid: str, email: str, name: str | None) -> tuple[CustomerRecord, bool]: ...
    def link(self, record: CustomerRecord, customer_id: str) -> bool: ...
    def release(self, record: CustomerRecord) -> None: ...
    def uid_for(self, customer_id: str) -> str | None: ...
    def linked(self) -> Iterator[tuple[str, str]]: ...


def _record(uid: str, data: dict[str, Any], version: Any) -> CustomerRecord:
    return CustomerRecord(
        uid=uid,
        customer_id=data.get("customer_id"),
        email=data.get("email"),
        name=data.get("name"),
        attempt=str(data.get("attempt", "")),
        started_at=data.get("started_at"),
        version=version,
    )


class CustomerStore:
    def __init__(self, db: firestore.Client, timeout: float) -> None:
        self._db = db
        self._timeout = timeout
        self._retry = firestore_retry(timeout)

    def _doc(self, uid: str) -> firestore.DocumentReference:
        return self._db.collection(CUSTOMERS).document(doc_id(uid))

    def get(self, uid: str) -> CustomerRecord | None:
        call_counts.count(call_counts.FIRESTORE)
        snapshot = get_document(self._doc(uid), timeout=self._timeout, retry=self._retry)
        if not snapshot.exists:
            return None
        return _record(uid, snapshot.to_dict() or {}, snapshot.update_time)

    def begin(self, uid: str, email: str, name: str | None) -> tuple[CustomerRecord, bool]:
        """Claims the uid for a new customer; (the existing claim, False) if one exists."""
        data = {
            "uid": uid,
            "customer_id": None,
            "email": email,
            "name": name,
            "attempt": uuid.uuid4().hex,
            "started_at": firestore.SERVER_TIMESTAMP,
        }
        call_counts.count(call_counts.FIRESTORE)
        try:
            result = self._doc(uid).create(data, timeout=self._timeout, retry=self._retry)
        except (AlreadyExists, Conflict):
            existing = self.get(uid)
            if existing is None:  # deleted in between: claim again
                return self.begin(uid, email, name)
            return existing, False
        return _record(uid, data | {"started_at": None}, result.update_time), True

    def link(self, record: CustomerRecord, customer_id: str) -> bool:
        """Records both directions atomically; False if another call linked the uid first."""
        batch = self._db.batch()
        batch.update(
            self._doc(record.uid),
            {"customer_id": customer_id, "linked_at": firestore.SERVER_TIMESTAMP},
            option=self._db.write_option(last_update_time=record.version),
        )
        batch.set(
            self._db.collection(CUSTOMERS_BY_STRIPE_ID).document(customer_id),
            {"uid": record.uid, "created_at": firestore.SERVER_TIMESTAMP},
        )
        call_counts.count(call_counts.FIRESTORE)
        try:
            batch.commit(timeout=self._timeout, retry=self._retry)
        except (FailedPrecondition, Conflict):
            return False
        return True

    def release(self, record: CustomerRecord) -> None:
        """Drops an unlinked claim (Stripe refused its parameters), unless it changed since."""
        call_counts.count(call_counts.FIRESTORE)
        with contextlib.suppress(FailedPrecondition, Conflict):
            self._doc(record.uid).delete(
                option=self._db.write_option(last_update_time=record.version),
                timeout=self._timeout,
                retry=self._retry,
            )

    def uid_for(self, customer_id: str) -> str | None:
        call_counts.count(call_counts.FIRESTORE)
        snapshot = get_document(
            self._db.collection(CUSTOMERS_BY_STRIPE_ID).document(customer_id),
            timeout=self._timeout,
            retry=self._retry,
        )
        return str((snapshot.to_dict() or {})["uid"]) if snapshot.exists else None

    def linked(self) -> Iterator[tuple[str, str]]:
        """Every (uid, customer id) pair, from the reverse index (one page read at a time)."""
        query = self._db.collection(CUSTOMERS_BY_STRIPE_ID).order_by("__name__")
        for snapshot in query.stream(timeout=self._timeout, retry=self._retry):
            call_counts.count(call_counts.FIRESTORE)
            yield str((snapshot.to_dict() or {})["uid"]), snapshot.id
