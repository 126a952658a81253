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
longer redeliver the message. The claim's rules are :mod:`core.leased_claims` (shared with the
metering ledger); this module names the statuses and what the mailer reads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from google.cloud import firestore

from core.leased_claims import LeasedClaims, Outcome, Statuses

COLLECTION = "sent_emails"
SENDING, SENT, FAILED = "sending", "sent", "failed"

_STATUSES = Statuses(working=SENDING, done=frozenset({SENT}), failed=FAILED)


class State(enum.Enum):
    OWNED = "owned"  # this delivery sends
    SENT = "sent"  # already sent: acknowledge
    IN_FLIGHT = "in_flight"  # another delivery holds a live lease: retry later


_STATES = {Outcome.OWNED: State.OWNED, Outcome.DONE: State.SENT, Outcome.IN_FLIGHT: State.IN_FLIGHT}


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
        # Each call, retries included, is bounded: a Pub/Sub push waits for the answer.
        self._claims = LeasedClaims(
            db, COLLECTION, _STATUSES, lease=lease, keep=keep, timeout=timeout
        )

    def claim(self, notification_id: str, now: datetime, details: dict[str, Any]) -> Claim:
        taken = self._claims.claim(doc_id(notification_id), now, details)
        return Claim(_STATES[taken.outcome], notification_id, taken.version, taken.lease_until)

    def mark_sent(self, claim: Claim, now: datetime) -> None:
        self._claims.finish(doc_id(claim.notification_id), SENT, now, {"sent_at": now})

    def release(self, claim: Claim, now: datetime, error: str) -> None:
        """Lets the next delivery send at once; a no-op if the claim was taken over since."""
        self._claims.release(doc_id(claim.notification_id), claim.version, now, error)
