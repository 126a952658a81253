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
(its retention is at most 31 days) and reconcile has compared the period.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition
from google.cloud import firestore

from core.firestore import firestore_retry

COLLECTION = "metered_usage"
RECORDING, RECORDED, HELD, REFUSED, FAILED = "recording", "recorded", "held", "refused", "failed"
FINAL = frozenset({RECORDED, HELD, REFUSED})


class State(enum.Enum):
    OWNED = "owned"  # this delivery records it
    DONE = "done"  # recorded, held or refused before: acknowledge
    IN_FLIGHT = "in_flight"  # another delivery holds a live lease: retry later
    CONFLICT = "conflict"  # the id was used for different usage


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
        self._db = db
        self._lease = lease
        self._keep = keep
        self._timeout = timeout
        self._retry = firestore_retry(timeout)

    def _ref(self, usage_id: str) -> firestore.DocumentReference:
        # The contract's id pattern is a valid Firestore document id as it is.
        return self._db.collection(COLLECTION).document(usage_id)

    def claim(self, usage_id: str, digest: str, now: datetime, details: dict[str, Any]) -> Claim:
        ref = self._ref(usage_id)
        claimed = {
            "status": RECORDING,
            "digest": digest,
            "lease_until": now + self._lease,
            "claimed_at": now,
            "attempts": 1,
            "expire_at": now + self._keep,
            **details,
        }
        try:
            result = ref.create(claimed, timeout=self._timeout, retry=self._retry)
            return Claim(State.OWNED, usage_id, result.update_time)
        except (AlreadyExists, Conflict):
            pass
        snapshot = ref.get(timeout=self._timeout, retry=self._retry)
        if not snapshot.exists:  # deleted by TTL in between: a later delivery claims afresh
            return Claim(State.IN_FLIGHT, usage_id)
        data = snapshot.to_dict() or {}
        if data.get("digest") != digest:
            return Claim(State.CONFLICT, usage_id, status=data.get("status"))
        if data.get("status") in FINAL:
            return Claim(State.DONE, usage_id, status=data.get("status"))
        held_until = data.get("lease_until")
        if data.get("status") == RECORDING and held_until is not None and held_until > now:
            return Claim(State.IN_FLIGHT, usage_id)
        try:
            result = ref.update(
                {
                    "status": RECORDING,
                    "lease_until": now + self._lease,
                    "claimed_at": now,
                    "attempts": firestore.Increment(1),
                },
                option=self._db.write_option(last_update_time=snapshot.update_time),
                timeout=self._timeout,
                retry=self._retry,
            )
        except (FailedPrecondition, Conflict):
            return Claim(State.IN_FLIGHT, usage_id)
        return Claim(State.OWNED, usage_id, result.update_time)

    def finish(self, claim: Claim, status: str, now: datetime, details: dict[str, Any]) -> None:
        self._ref(claim.usage_id).update(
            {"status": status, "finished_at": now, "expire_at": now + self._keep, **details},
            timeout=self._timeout,
            retry=self._retry,
        )

    def release(self, claim: Claim, now: datetime, error: str) -> None:
        """Lets the next delivery record it at once; a no-op if the claim was taken over since."""
        with contextlib.suppress(FailedPrecondition, Conflict):
            self._ref(claim.usage_id).update(
                {"status": FAILED, "lease_until": now, "last_error": error[:300]},
                option=self._db.write_option(last_update_time=claim.version),
                timeout=self._timeout,
                retry=self._retry,
            )
