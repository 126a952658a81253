"""Each notification mailed once: a claim in Firestore ``sent_emails/{notification id}``.

A delivery first *claims* the notification (creates its document, status ``sending``, with a
lease), then sends, then marks it ``sent``. Any other delivery of the same notification meanwhile
finds the claim: ``sent`` -> nothing to do (acknowledge); ``sending`` within its lease -> someone
is sending right now, so it must neither send nor acknowledge (it raises, and Pub/Sub delivers it
again later, when the claim has become ``sent``, or lapsed). A lapsed lease (the sender crashed)
or a released claim (the send failed) may be taken over, with a precondition on the document's
update time, so of several deliveries racing for it exactly one wins.

The one window left: the relay accepted the mail and the process died before the mark (or
every retry of the mark failed). The claim then lapses and the mail is sent again. The mark is
a single small write right after the relay's answer, so the window is one Firestore round trip
wide; the Message-ID stays the same, so the receiving side can still tell the repeat.

Each document has ``expire_at`` for a Firestore TTL policy to delete it once Pub/Sub can no
longer redeliver the message.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from google.api_core import retry
from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition
from google.cloud import firestore

from core import call_counts

COLLECTION = "sent_emails"
SENDING, SENT, FAILED = "sending", "sent", "failed"


class State(enum.Enum):
    OWNED = "owned"  # this delivery sends
    SENT = "sent"  # already sent: acknowledge
    IN_FLIGHT = "in_flight"  # another delivery holds a live lease: retry later


@dataclass(frozen=True)
class Claim:
    state: State
    notification_id: str
    version: Any = None  # the document's update time once owned, for preconditions
    lease_until: datetime | None = None


class Claims(Protocol):
    """The sent_emails ledger (Firestore; in memory in unit tests)."""

    def claim(self, notification_id: str, now: datetime, details: dict[str, Any]) -> Claim: ...
    def mark_sent(self, claim: Claim, now: datetime) -> None: ...
    def release(self, claim: Claim, now: datetime, error: str) -> None: ...


def doc_id(notification_id: str) -> str:
    # The contract's pattern (evt_...:type) is a valid Firestore id as it is, and readable.
    return notification_id


class FirestoreClaims:
    def __init__(
        self, db: firestore.Client, *, lease: timedelta, keep: timedelta, timeout: float
    ) -> None:
        self._db = db
        self._lease = lease
        self._keep = keep
        self._timeout = timeout
        # Each call, retries included, is bounded: a Pub/Sub push waits for the answer.
        self._retry = retry.Retry(
            predicate=retry.if_transient_error,
            initial=0.1,
            maximum=1.0,
            multiplier=2.0,
            timeout=timeout,
        )

    def _ref(self, notification_id: str) -> firestore.DocumentReference:
        return self._db.collection(COLLECTION).document(doc_id(notification_id))

    def claim(self, notification_id: str, now: datetime, details: dict[str, Any]) -> Claim:
        ref = self._ref(notification_id)
        lease_until = now + self._lease
        claimed = {
            "status": SENDING,
            "lease_until": lease_until,
            "claimed_at": now,
            "attempts": 1,
            "expire_at": now + self._keep,
            **details,
        }
        call_counts.count(call_counts.FIRESTORE)
        try:
            result = ref.create(claimed, timeout=self._timeout, retry=self._retry)
            return Claim(State.OWNED, notification_id, result.update_time, lease_until)
        except (AlreadyExists, Conflict):
            pass
        call_counts.count(call_counts.FIRESTORE)
        snapshot = ref.get(timeout=self._timeout, retry=self._retry)
        if not snapshot.exists:  # deleted by TTL in between: a later delivery claims afresh
            return Claim(State.IN_FLIGHT, notification_id)
        data = snapshot.to_dict() or {}
        if data.get("status") == SENT:
            return Claim(State.SENT, notification_id)
        held_until = data.get("lease_until")
        if data.get("status") == SENDING and held_until is not None and held_until > now:
            return Claim(State.IN_FLIGHT, notification_id, lease_until=held_until)
        # Lapsed or released: take it over, unless another delivery does so first.
        call_counts.count(call_counts.FIRESTORE)
        try:
            result = ref.update(
                {
                    "status": SENDING,
                    "lease_until": lease_until,
                    "claimed_at": now,
                    "attempts": firestore.Increment(1),
                },
                option=self._db.write_option(last_update_time=snapshot.update_time),
                timeout=self._timeout,
                retry=self._retry,
            )
        except (FailedPrecondition, Conflict):
            return Claim(State.IN_FLIGHT, notification_id)
        return Claim(State.OWNED, notification_id, result.update_time, lease_until)

    def mark_sent(self, claim: Claim, now: datetime) -> None:
        call_counts.count(call_counts.FIRESTORE)
        self._ref(claim.notification_id).update(
            {"status": SENT, "sent_at": now, "expire_at": now + self._keep},
            timeout=self._timeout,
            retry=self._retry,
        )

    def release(self, claim: Claim, now: datetime, error: str) -> None:
        """Lets the next delivery send at once; a no-op if the claim was taken over since."""
        call_counts.count(call_counts.FIRESTORE)
        with contextlib.suppress(FailedPrecondition, Conflict):
            self._ref(claim.notification_id).update(
                {"status": FAILED, "lease_until": now, "last_error": error[:300]},
                option=self._db.write_option(last_update_time=claim.version),
                timeout=self._timeout,
                retry=self._retry,
            )
