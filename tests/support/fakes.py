"""Small, real in-memory implementations of the functions' ports, for unit tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from billing.auth import Caller
from billing.context import Context
from billing.errors import INVALID_TOKEN, Unauthenticated
from billing.runtime import Runtime
from billing.state.customers import CustomerRecord
from mailer.once import FAILED, SENDING, SENT, Claim, State
from mailer.smtp import SendFailed

if TYPE_CHECKING:
    import stripe

    from billing.config import BillingSettings


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
            raise Unauthenticated("The ID token is invalid.", code=INVALID_TOKEN) from None


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


class InMemoryClaims:
    """The sent_emails ledger with the Firestore one's rules (see mailer.once), in memory.

    ``fail`` maps an operation (claim, mark_sent, release) to an exception raised once.
    """

    def __init__(self, lease: timedelta = timedelta(seconds=120)) -> None:
        self._lock = threading.Lock()
        self.lease = lease
        self.docs: dict[str, dict[str, Any]] = {}
        self.fail: dict[str, Exception] = {}

    def _maybe_fail(self, operation: str) -> None:
        error = self.fail.pop(operation, None)
        if error is not None:
            raise error

    def claim(self, notification_id: str, now: datetime, details: dict[str, Any]) -> Claim:
        with self._lock:
            self._maybe_fail("claim")
            doc = self.docs.get(notification_id)
            if doc is not None and doc["status"] == SENT:
                return Claim(State.SENT, notification_id)
            if doc is not None and doc["status"] == SENDING and doc["lease_until"] > now:
                return Claim(State.IN_FLIGHT, notification_id)
            version = 1 if doc is None else doc["version"] + 1
            attempts = 1 if doc is None else doc["attempts"] + 1
            self.docs[notification_id] = (
                (doc or {})
                | details
                | {
                    "status": SENDING,
                    "lease_until": now + self.lease,
                    "attempts": attempts,
                    "version": version,
                }
            )
            return Claim(State.OWNED, notification_id, version, now + self.lease)

    def mark_sent(self, claim: Claim, now: datetime) -> None:
        with self._lock:
            self._maybe_fail("mark_sent")
            self.docs[claim.notification_id] |= {"status": SENT, "sent_at": now}

    def release(self, claim: Claim, now: datetime, error: str) -> None:
        with self._lock:
            self._maybe_fail("release")
            doc = self.docs[claim.notification_id]
            if doc["version"] == claim.version:
                doc |= {"status": FAILED, "lease_until": now, "last_error": error}


class RecordingSender:
    """Keeps what it is asked to send; the first ``fail_first`` sends raise SendFailed."""

    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[tuple[EmailMessage, str, str]] = []
        self.fail_first = fail_first
        self.calls = 0

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise SendFailed("SMTPDataError: 451 try again later")
        self.sent.append((message, sender, recipient))


def caller_context(
    settings: BillingSettings, stripe_client: Any, *, uid: str = "u1", customer: str = "cus_1"
) -> Context:
    """A browser call's context: the caller ``uid``, whose Stripe customer is ``customer`` (the
    mapping held in memory), with ``stripe_client`` (a fake answering ``raw_request``, or a real
    client on a fake transport) as Stripe."""
    customers = InMemoryCustomers()
    record, _ = customers.begin(uid, f"{uid}@example.com", None)
    customers.link(record, customer)
    client: stripe.StripeClient = stripe_client
    runtime = Runtime(settings, stripe_client=client, customers=customers)
    return Context(runtime=runtime, request_id="r", caller=Caller(uid, None, False))
