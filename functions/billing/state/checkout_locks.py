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
trip per attempt (a release refused by its precondition reads once more), counted in
:mod:`core.call_counts`; ``expire_at`` lets a TTL policy delete locks of customers gone quiet.

**A lost answer.** A write Firestore stored whose answer the client never got (a dropped
connection) is sent again by the client's retry (``firestore_retry``), and the resend meets
our own write: a create meets AlreadyExists, a takeover or a release the update time it changed
itself. Each write carries a random token that only this request knows, and the read that
follows says whether that write was ours:

- *acquire*: each create and each takeover draws its ``owner`` token. After a refused write
  the loop reads the document again; our token there with a lease still running is our lock,
  held at once at the update time read (nothing else wrote since: another writer replaces the
  token). Without it, the request waited ``wait_seconds`` on its own lease and answered 409,
  and the customer could open no checkout for the whole ``LEASE``.
- *release*: it writes ``released_by`` (our token) with the ended lease. Refused by its
  precondition, it reads the document: our token in ``released_by`` means our release was
  stored, so we held the lock to the end (a release is only stored while the update time is
  still ours), and it answers True, even if another request took the free lock since (a tab
  waiting behind us polls). Anything else is a takeover after our lease lapsed: False, as
  before, and the caller ends what it opened. Without it, the caller ended the checkout it
  had just opened, for nothing.

Another request never has the token, so it still waits for a live lease; of two takers still
exactly one write lands (the create, or the update conditional on the update time both read),
and a request whose lease passed to another still learns it at release. Our token found on a
lease that no longer runs is not held as it is (another could take it over while we work): it
is taken over with a new token, as any lapsed lease. A takeover keeps ``released_by``, so a tab
that took the lock in the moment between our stored release and our retry's read does not
make our release False; only a whole checkout of that tab, released within that moment (its
own ``released_by`` then replaces ours), does: the request then ends what it opened and
answers 409 as before (never two payable, the customer tries again). The tokens stay in
Firestore: in no log line or answer (``Held.owner`` is the caller's only, not in its repr).

What still waits a lease (slow, never doubled): a write stored while the call failed to us
(its retries spent, or its deadline passed). acquire then raises, the request answers 5xx, and
the customer's next try is another request without the token, which waits for that lease
(409 ``in_progress`` after 30 s) until it lapses, at most ``LEASE``. A release that fails so
raises too (the caller ends nothing it opened, and the stored release, if any, freed the lock;
if not, the lease lapses). A refused release whose read-back fails is answered False (as a
takeover): not knowing whether another request holds the lock and may have opened a checkout,
the caller ends what it opened rather than risk two payable ones.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core.exceptions import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    GoogleAPICallError,
    RetryError,
)
from google.cloud import firestore

from core import call_counts
from core.firestore import firestore_retry, get_document
from core.leased_claims import held_by, lease_runs

log = logging.getLogger(__name__)

CHECKOUT_LOCKS = "checkout_locks"
# The token of the request whose release is stored (see the module): in the document only.
RELEASED_BY = "released_by"
LEASE = timedelta(seconds=150)
KEEP = timedelta(days=30)


class Busy(Exception):
    """Another request holds the customer's lock for longer than the caller waits."""


@dataclass(frozen=True)
class Held:
    customer_id: str
    owner: str = field(repr=False)  # the token: in no log line, not even a Held's repr
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
        # The token of our last write when it was refused: it may have been stored, its answer
        # lost (see the module). Only the read right after that write can find it.
        refused: str | None = None
        while True:
            now = datetime.now(UTC)
            owner = uuid.uuid4().hex
            held = {"owner": owner, "lease_until": now + LEASE, "expire_at": now + KEEP}
            call_counts.count(call_counts.FIRESTORE)
            snapshot = get_document(ref, **self._kw())
            data = (snapshot.to_dict() or {}) if snapshot.exists else {}
            if refused is not None and held_by(data, refused, datetime.now(UTC)):
                # Our create or takeover was stored and its answer lost; the retry that sent
                # it again met it. The lock is ours, at the update time read.
                return Held(customer_id, refused, snapshot.update_time)
            if refused is not None and time.monotonic() > deadline:
                # Refused and not ours, past the wait: give up as behind a live holder. A write
                # refused skips the sleep (its read-back comes at once), so without this a lock
                # read free and refused again and again would spin past the wait.
                raise Busy(customer_id)
            refused = None
            try:
                if not snapshot.exists:
                    call_counts.count(call_counts.FIRESTORE)
                    result = ref.create(held, **self._kw())
                    return Held(customer_id, owner, result.update_time)
                if not lease_runs(data, now):
                    call_counts.count(call_counts.FIRESTORE)
                    result = ref.update(
                        held,
                        option=self._db.write_option(last_update_time=snapshot.update_time),
                        **self._kw(),
                    )
                    return Held(customer_id, owner, result.update_time)
            except (AlreadyExists, Conflict, FailedPrecondition):
                # Another request took it between our read and our write, or our own write
                # was stored and its answer lost: the next read says which.
                refused = owner
                continue
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
        to another request, which may have acted since. Our own release stored with its
        answer lost is True (see the module)."""
        ref = self._db.collection(CHECKOUT_LOCKS).document(held.customer_id)
        call_counts.count(call_counts.FIRESTORE)
        try:
            ref.update(
                {"lease_until": datetime.now(UTC), "opened": opened, RELEASED_BY: held.owner},
                option=self._db.write_option(last_update_time=held.version),
                **self._kw(),
            )
        except (Conflict, FailedPrecondition):
            # Taken over since our lease lapsed, or our own release was stored and its answer
            # lost (the retry met the update time it changed): the document says which.
            call_counts.count(call_counts.FIRESTORE)
            try:
                after = get_document(ref, **self._kw())
            except (GoogleAPICallError, RetryError) as exc:
                # Not known which: answered as a takeover, so the caller ends what it opened.
                # A checkout thrown away (the customer opens another) is the lesser harm; kept
                # beside the one the taker may have opened, both could be paid.
                log.warning(
                    "could not read the checkout lock back after a refused release: %s",
                    type(exc).__name__,
                )
                return False
            found = (after.to_dict() or {}) if after.exists else {}
            return found.get(RELEASED_BY) == held.owner
        return True
