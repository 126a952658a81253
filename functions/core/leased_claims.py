"""Work done once: one Firestore document per piece of work, claimed with a lease.

What the metering ledger (``billing.state.metered_usage``: each usage recorded in Stripe once)
and the email function's send-once (``mailer.once``: each notification mailed once) share.
Each of them keeps its own collection, status names and the outcomes its caller reads; this
module holds the rules, so they are written, and tested, once:

1. **Claim**: create the document (the *working* status, ``lease_until``, ``attempts`` 1,
   ``expire_at``, and ``owner``: a random token this claim attempt draws). Created: this
   delivery owns the work (:attr:`Outcome.OWNED`).
2. It exists already. Read it:
   - the working status with our own ``owner``: our create was written and its answer lost
     (a dropped connection), and the client's retry that sent it again met our own claim. It
     is ours (:attr:`Outcome.OWNED`), with the update time read as its version;
   - otherwise another delivery came first:
     - a field the caller names in ``same`` differs: the id was used for other work
       (:attr:`Outcome.CONFLICT`), whatever its status;
     - a *done* status: nothing to do (:attr:`Outcome.DONE`); a done claim is never taken again;
     - the working status with a lease still running: another delivery is doing it now
       (:attr:`Outcome.IN_FLIGHT`: do nothing, come back later);
     - otherwise (a lapsed lease: its delivery died; or released after a failure): take it over
       (a new ``owner`` and lease), with a precondition on the update time just read, so of
       several deliveries racing for it exactly one wins. A takeover refused by its precondition
       reads the document again: our ``owner`` there means our takeover was written and the
       retry of its lost answer met the update time it changed (OWNED); anyone else's means
       another delivery won (:attr:`Outcome.IN_FLIGHT`). The document gone between the create
       and the read (a TTL deletion) is also IN_FLIGHT: a later delivery claims afresh.
3. **Finish**: the done status, written unconditionally (the work is done, by whichever
   delivery; a later delivery then finds it done).
4. **Release** after a failure: ``failed`` with the lease ended now, so the next delivery takes
   over at once; conditional on the update time of our claim, so a delivery whose claim was
   taken over since changes nothing. That precondition is already stronger than comparing
   ``owner`` (any later write, a takeover's above all, changes the update time), and needs no
   read.

Each attempt draws its own token, so only that attempt can recognise its claim: another
delivery, a Pub/Sub redelivery of the same message included (which may run while the first
still works), never does, and finds IN_FLIGHT. The token stays in the document: it is in no
:class:`Taken`, log line or answer, and a caller's fields may not set it (``OWN_FIELDS``).

The one window every caller documents: the work was done and the process died before the
finish. The lease then lapses and the work is done again by the next delivery, unless the
caller can tell the repeat (metering: Stripe refuses a meter event's repeated identifier).

What still waits one lease (slow, never lost or doubled): a claim whose write landed while the
call failed to the caller (its retries spent, or a deadline, which is not retried), so the
delivery answered an error. Its redelivery is another attempt, with another token, and finds
the claim IN_FLIGHT until the lease lapses.

The takeover's and the release's precondition is Firestore's own: "When set, the target
document must exist and have been last updated at that time" (Precondition.update_time,
https://cloud.google.com/ruby/docs/reference/google-cloud-firestore-v1/latest/Google-Cloud-Firestore-V1-Precondition);
a write whose precondition fails is refused (FailedPrecondition, or Conflict on some paths).
``expire_at`` is for a Firestore TTL policy. Every round trip is counted in
:mod:`core.call_counts`; each call, its retries included, is bounded by ``timeout``.

The webhook's inbox (``billing.entitlements.events``) is the same idea with another shape
(its claim is committed together with the sync's ticket, it waits for a live holder, and every
later write is a compare-and-set on the claim), and so is the checkout lock
(``billing.state.checkout_locks``): neither uses :class:`LeasedClaims`. Both keep the same
token rule with this module's :func:`held_by`: each create and each takeover draws a token, and
a read after a refused write that finds ours with the lease running is ours (the inbox's
without the ticket, whose time the read does not give: the sync takes its own).
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition
from google.cloud import firestore

from core import call_counts
from core.firestore import firestore_retry

FAILED = "failed"
# The token of the claim attempt that wrote the claim (each attempt draws its own): in the
# document only, never in a Taken, a log line or an answer.
OWNER = "owner"
# The fields these rules read and write: a caller's own fields may not name them, or a claim's
# details (or a finish's fields) could set its status, lease or owner around the rules.
OWN_FIELDS = frozenset(
    {"status", "lease_until", "claimed_at", "attempts", "expire_at", "last_error", OWNER}
)


def lease_runs(data: Mapping[str, Any], now: datetime) -> bool:
    """The document's lease (``lease_until``) is set and not over at ``now``."""
    lease_until = data.get("lease_until")
    return lease_until is not None and bool(lease_until > now)


def held_by(data: Mapping[str, Any], owner: str, now: datetime) -> bool:
    """The document carries ``owner``'s token and its lease runs: how a leased document read
    after a refused write tells the write was this attempt's, stored with its answer lost. Used
    here, by the webhook's inbox and by the checkout lock, each adding its own status rule."""
    return data.get(OWNER) == owner and lease_runs(data, now)


class Outcome(enum.Enum):
    OWNED = "owned"  # this delivery does the work
    DONE = "done"  # done before: nothing to do
    IN_FLIGHT = "in_flight"  # another delivery holds a live lease (or just won the takeover)
    CONFLICT = "conflict"  # the id was claimed for different work


@dataclass(frozen=True)
class Taken:
    outcome: Outcome
    version: Any = None  # our claim's update time (OWNED): the release's precondition
    lease_until: datetime | None = None  # ours (OWNED), or the holder's (IN_FLIGHT, when read)
    status: str | None = None  # the status found (DONE, CONFLICT)


@dataclass(frozen=True)
class Statuses:
    """A caller's names: the status while working, and the statuses that mean done."""

    working: str
    done: frozenset[str]
    failed: str = FAILED

    def __post_init__(self) -> None:
        if self.working in self.done or self.failed in self.done or self.working == self.failed:
            raise ValueError(f"working, failed and done statuses overlap: {self}")


def _theirs(fields: Mapping[str, Any], what: str) -> None:
    if clash := sorted(OWN_FIELDS & fields.keys()):
        raise ValueError(f"{what} may not set the claim's own fields: {', '.join(clash)}")


class LeasedClaims:
    """The claims of one collection (see the module)."""

    def __init__(
        self,
        db: firestore.Client,
        collection: str,
        statuses: Statuses,
        *,
        lease: timedelta,
        keep: timedelta,
        timeout: float,
    ) -> None:
        if lease <= timedelta(0):
            raise ValueError("a lease must be positive")
        self._db = db
        self._collection = collection
        self._statuses = statuses
        self._lease = lease
        self._keep = keep
        self._timeout = timeout
        self._retry = firestore_retry(timeout)

    def _ref(self, key: str) -> firestore.DocumentReference:
        return self._db.collection(self._collection).document(key)

    def _kw(self) -> dict[str, Any]:
        return {"timeout": self._timeout, "retry": self._retry}

    def claim(
        self,
        key: str,
        now: datetime,
        details: Mapping[str, Any],
        *,
        same: Mapping[str, Any] | None = None,
    ) -> Taken:
        """Claims ``key`` at ``now``; ``details`` are written with a new claim, ``same`` too,
        and an existing claim whose ``same`` fields differ is a CONFLICT."""
        same = same or {}
        _theirs(details, "details")
        _theirs(same, "same")
        ref = self._ref(key)
        lease_until = now + self._lease
        # This attempt's own token: a read that finds it knows the claim is ours (see the module).
        owner = uuid.uuid4().hex
        held = {
            "status": self._statuses.working,
            "lease_until": lease_until,
            "claimed_at": now,
            OWNER: owner,
        }
        call_counts.count(call_counts.FIRESTORE)
        try:
            created = ref.create(
                {**held, "attempts": 1, "expire_at": now + self._keep, **details, **same},
                **self._kw(),
            )
            return Taken(Outcome.OWNED, created.update_time, lease_until)
        except (AlreadyExists, Conflict):
            pass
        call_counts.count(call_counts.FIRESTORE)
        snapshot = ref.get(**self._kw())
        if not snapshot.exists:
            return Taken(Outcome.IN_FLIGHT)
        data = snapshot.to_dict() or {}
        if self._ours(data, owner):
            # Our create was written and its answer lost; the retry that resent it met it.
            return Taken(Outcome.OWNED, snapshot.update_time, lease_until)
        status = data.get("status")
        if any(data.get(field) != value for field, value in same.items()):
            return Taken(Outcome.CONFLICT, status=status)
        if status in self._statuses.done:
            return Taken(Outcome.DONE, status=status)
        if status == self._statuses.working and lease_runs(data, now):
            return Taken(Outcome.IN_FLIGHT, lease_until=data["lease_until"])
        call_counts.count(call_counts.FIRESTORE)
        try:
            taken = ref.update(
                {**held, "attempts": firestore.Increment(1)},
                option=self._db.write_option(last_update_time=snapshot.update_time),
                **self._kw(),
            )
        except (FailedPrecondition, Conflict):
            pass
        else:
            return Taken(Outcome.OWNED, taken.update_time, lease_until)
        # Updated since our read: another delivery took it over first, or our own takeover was
        # written, its answer lost, and the retry that resent it met the update time it changed.
        call_counts.count(call_counts.FIRESTORE)
        after = ref.get(**self._kw())
        found = (after.to_dict() or {}) if after.exists else {}
        if self._ours(found, owner):
            return Taken(Outcome.OWNED, after.update_time, lease_until)
        theirs = found.get("lease_until") if found.get("status") == self._statuses.working else None
        return Taken(Outcome.IN_FLIGHT, lease_until=theirs)

    def _ours(self, data: Mapping[str, Any], owner: str) -> bool:
        """The document read is the claim this attempt wrote, still working."""
        return data.get(OWNER) == owner and data.get("status") == self._statuses.working

    def finish(self, key: str, status: str, now: datetime, fields: Mapping[str, Any]) -> None:
        """Marks the work done (``status``, one of the done statuses), keeping it ``keep``."""
        if status not in self._statuses.done:
            raise ValueError(f"{status!r} is not a done status of {self._collection}")
        _theirs(fields, "fields")
        call_counts.count(call_counts.FIRESTORE)
        self._ref(key).update(
            {"status": status, "expire_at": now + self._keep, **fields}, **self._kw()
        )

    def release(self, key: str, version: Any, now: datetime, error: str) -> None:
        """Lets the next delivery take over at once; a no-op if the claim was taken over since
        (``version``: the update time the claim was taken with)."""
        call_counts.count(call_counts.FIRESTORE)
        with contextlib.suppress(FailedPrecondition, Conflict):
            self._ref(key).update(
                {"status": self._statuses.failed, "lease_until": now, "last_error": error[:300]},
                option=self._db.write_option(last_update_time=version),
                **self._kw(),
            )
