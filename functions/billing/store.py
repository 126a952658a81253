"""Firestore documents the functions own, and the only code that touches them.

``billing_customers/{uid}``                 uid -> Stripe customer (one per user, ever)
``billing_customers_by_stripe_id/{cus_id}`` Stripe customer -> uid (webhooks look up by this)

Each method is one Firestore round trip, counted in :mod:`billing.usage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from billing import usage

CUSTOMERS = "billing_customers"
CUSTOMERS_BY_STRIPE_ID = "billing_customers_by_stripe_id"

# Firestore calls fail fast enough for a user to retry instead of hanging on an HTTP request.
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class CustomerLink:
    uid: str
    customer_id: str
    email: str | None
    created_at: datetime | None


class Customers(Protocol):
    """The uid <-> Stripe customer mapping (Firestore in production, in-memory in unit tests)."""

    def get(self, uid: str) -> CustomerLink | None: ...
    def uid_for(self, customer_id: str) -> str | None: ...
    def link(self, uid: str, customer_id: str, email: str | None) -> bool: ...


class CustomerStore:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def get(self, uid: str) -> CustomerLink | None:
        usage.count(usage.FIRESTORE)
        snapshot = self._db.collection(CUSTOMERS).document(uid).get(timeout=TIMEOUT_SECONDS)
        if not snapshot.exists:
            return None
        data = snapshot.to_dict() or {}
        return CustomerLink(
            uid=uid,
            customer_id=str(data["customer_id"]),
            email=data.get("email"),
            created_at=data.get("created_at"),
        )

    def uid_for(self, customer_id: str) -> str | None:
        usage.count(usage.FIRESTORE)
        snapshot = (
            self._db.collection(CUSTOMERS_BY_STRIPE_ID)
            .document(customer_id)
            .get(timeout=TIMEOUT_SECONDS)
        )
        return str((snapshot.to_dict() or {})["uid"]) if snapshot.exists else None

    def link(self, uid: str, customer_id: str, email: str | None) -> bool:
        """Records both directions atomically; False if the uid already had a customer."""
        batch = self._db.batch()
        batch.create(
            self._db.collection(CUSTOMERS).document(uid),
            {"customer_id": customer_id, "email": email, "created_at": firestore.SERVER_TIMESTAMP},
        )
        batch.create(
            self._db.collection(CUSTOMERS_BY_STRIPE_ID).document(customer_id),
            {"uid": uid, "created_at": firestore.SERVER_TIMESTAMP},
        )
        usage.count(usage.FIRESTORE)
        try:
            batch.commit(timeout=TIMEOUT_SECONDS)
        except (AlreadyExists, Conflict):
            return False
        return True
