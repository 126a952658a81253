"""The metering ledger, ``metered_usage/{usage id}``: each usage recorded in Stripe once.

Stripe de-duplicates meter events on ``identifier`` only "within a rolling period of at least
24 hours" (https://docs.stripe.com/api/billing/meter-event/create). The ledger covers the rest:
a delivery first *claims* the usage id (creates its document, ``recording``, with a lease), then
sends the meter event, then marks it ``recorded``. Another delivery of the same id meanwhile
finds the claim: ``recorded``/``held``/``refused`` -> nothing to do; ``recording`` within its
lease -> someone is sending it now, so it neither sends nor acknowledges (Pub/Sub delivers it
again later); a lapsed or released claim is taken over with a precondition on the document's
update time, so of several racing deliveries exactly one wins.

The one window: Stripe accepted the event and the process died before the mark. The lease then
lapses (minutes, far inside Stripe's 24 hours) and the next delivery sends the same identifier
again, which Stripe refuses as a repeat: the function takes that refusal as "recorded".

Each document keeps ``digest`` (subject, meter, value, timestamp): a second report under one id
with different contents is a publisher bug, refused and logged, never recorded over the first.
``expire_at`` lets a Firestore TTL policy delete documents once Pub/Sub can no longer redeliver
(its retention is at most 31 days) and reconcile has compared the period. The claim's rules
are :mod:`core.leased_claims` (shared with the email function's send-once); this module names
the statuses, the digest check and what metering reads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from google.cloud import firestore

from core.leased_claims import LeasedClaims, Outcome, Statuses

COLLECTION = "metered_usage"
RECORDING, RECORDED, HELD, REFUSED, FAILED = "recording", "recorded", "held", "refused", "failed"
FINAL = frozenset({RECORDED, HELD, REFUSED})

_STATUSES = Statuses(working=RECORDING, done=FINAL, failed=FAILED)


class State(enum.Enum):
    OWNED = "owned"  # this delivery records it
    DONE = "done"  # recorded, held or refused before: acknowledge
    IN_FLIGHT = "in_flight"  # another delivery holds a live lease: retry later
    CONFLICT = "conflict"  # the id was used for different usage


_STATES = {
    Outcome.OWNED: State.OWNED,
    Outcome.DONE: State.DONE,
    Outcome.IN_FLIGHT: State.IN_FLIGHT,
    Outcome.CONFLICT: State.CONFLICT,
}


@dataclass(frozen=True)
class Claim:
    state: State
    usage_id: str
    version: Any = None  # update time once owned, for preconditions
    status: str | None = None  # the final status found (DONE)


class Ledger(Protocol):
    def claim(
        self, usage_id: str, digest: str, now: datetime, details: dict[str, Any]
    ) -> Claim: ...
    def finish(self, claim: Claim, status: str, now: datetime, details: dict[str, Any]) -> None: ...
    def release(self, claim: Claim, now: datetime, error: str) -> None: ...


class FirestoreLedger:
    def __init__(
        self, db: firestore.Client, *, lease: timedelta, keep: timedelta, timeout: float
    ) -> None:
        self._claims = LeasedClaims(
            db, COLLECTION, _STATUSES, lease=lease, keep=keep, timeout=timeout
        )

    # The contract's id pattern is a valid Firestore document id as it is.

    def claim(self, usage_id: str, digest: str, now: datetime, details: dict[str, Any]) -> Claim:
        taken = self._claims.claim(usage_id, now, details, same={"digest": digest})
        return Claim(_STATES[taken.outcome], usage_id, taken.version, taken.status)

    def finish(self, claim: Claim, status: str, now: datetime, details: dict[str, Any]) -> None:
        self._claims.finish(claim.usage_id, status, now, {"finished_at": now, **details})

    def release(self, claim: Claim, now: datetime, error: str) -> None:
        """Lets the next delivery record it at once; a no-op if the claim was taken over since."""
        self._claims.release(claim.usage_id, claim.version, now, error)
