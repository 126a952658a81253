"""``checkout_locks/{customer_id}``: one request at a time opens something payable for a customer.

Opening a checkout is several Stripe calls: list what the customer has, create the new
subscription or Checkout page, end every older one that could still be paid. Stripe has no
transaction around them, so two requests interleaving those steps (two tabs, a double click on
both buttons, Elements and Checkout at once) could each end only what it had listed and both
leave their own new one payable. Every operation that opens something payable runs that whole
sequence holding this customer's lock, so the sequences of two requests never interleave: each
lists everything the one before it created, and ends it. What can be paid is then at most one
thing by construction, not by a check a race can slip past.

The lock is a lease (Firestore has no lock that outlives a crash): ``owner`` and ``lease_until``,
taken by a create, or by an update conditional on the document being as read (so two takers
cannot both win). A request that dies holding it delays that customer's checkouts by at most
``LEASE``; a request slower than its lease learns it at release (a compare-and-set on the version
it wrote), and the caller then ends what it opened (see ``_one_subscription.one_at_a_time``).
``LEASE`` is longer than an HTTP function may run (147 s by default, infra/modules/function-plan),
so a request the platform still lets run never loses it. Each method call is one Firestore round
trip per attempt, counted in :mod:`core.call_counts`; ``expire_at`` lets a TTL policy delete
locks of customers gone quiet.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition
from google.cloud import firestore

from core import call_counts
from core.firestore import firestore_retry, get_document

log = logging.getLogger(__name__)

CHECKOUT_LOCKS = "checkout_locks"
LEASE = timedelta(seconds=150)
KEEP = timedelta(days=30)


class Busy(Exception):
    """Another request holds the customer's lock for longer than the caller waits."""


@dataclass(frozen=True)
class Held:
    customer_id: str
    owner: str
    version: Any  # update_time of our write: the compare-and-set token


class CheckoutLocks:
    def __init__(self, db: firestore.Client, timeout: float) -> None:
        self._db = db
        self._timeout = timeout
        self._retry = firestore_retry(timeout)

    def _kw(self) -> dict[str, Any]:
        return {"timeout": self._timeout, "retry": self._retry}

    def acquire(self, customer_id: str, *, wait_seconds: float, poll_seconds: float = 0.1) -> Held:
        """The customer's lock, waiting up to ``wait_seconds`` for a live holder to release it;
        :class:`Busy` after that."""
        ref = self._db.collection(CHECKOUT_LOCKS).document(customer_id)
        deadline = time.monotonic() + wait_seconds
        waiting = False
        while True:
            now = datetime.now(UTC)
            owner = uuid.uuid4().hex
            held = {"owner": owner, "lease_until": now + LEASE, "expire_at": now + KEEP}
            call_counts.count(call_counts.FIRESTORE)
            snapshot = get_document(ref, **self._kw())
            try:
                if not snapshot.exists:
                    call_counts.count(call_counts.FIRESTORE)
                    result = ref.create(held, **self._kw())
                    return Held(customer_id, owner, result.update_time)
                lease_until = (snapshot.to_dict() or {}).get("lease_until")
                if lease_until is None or lease_until <= now:
                    call_counts.count(call_counts.FIRESTORE)
                    result = ref.update(
                        held,
                        option=self._db.write_option(last_update_time=snapshot.update_time),
                        **self._kw(),
                    )
                    return Held(customer_id, owner, result.update_time)
            except (AlreadyExists, Conflict, FailedPrecondition):
                pass  # another request took it between our read and our write: look again
            if not waiting:
                # Once per request: what an operator reads when checkouts queue (and what
                # the two-tab test waits for to know the second tab is queued behind the first).
                waiting = True
                log.info(
                    "waiting for the customer's checkout lock", extra={"customer_id": customer_id}
                )
            if time.monotonic() > deadline:
                raise Busy(customer_id)
            time.sleep(poll_seconds)

    def release(self, held: Held, opened: str | None = None) -> bool:
        """Ends our lease at once (recording what we opened); False when it had already passed
        to another request, which may have acted since."""
        ref = self._db.collection(CHECKOUT_LOCKS).document(held.customer_id)
        call_counts.count(call_counts.FIRESTORE)
        try:
            ref.update(
                {"lease_until": datetime.now(UTC), "opened": opened},
                option=self._db.write_option(last_update_time=held.version),
                **self._kw(),
            )
        except (Conflict, FailedPrecondition):
            return False
        return True
