"""Stripe events: dedupe on the event id, sync the customer, record and publish notifications.

The HTTP side (signature, body, answers Stripe understands) is :mod:`billing.http.stripe_webhook`.
This module gets a verified event and decides its effect:

1. Irrelevant types, and customers this app does not know, need nothing: answered 2xx.
2. Claim the event in ``stripe_events/{event_id}`` (the inbox) with a lease. A delivery that
   finds it done answers "duplicate"; one that finds another delivery working waits a little,
   then answers 503 so Stripe comes back; a lease left by a crashed delivery is taken over.
   Each claim attempt (the create, each takeover) writes its own random ``owner`` token: a
   claim whose answer was lost (stored, the connection dropped, and the client's retry met
   our own claim: AlreadyExists, or the update time our takeover changed) is recognised on
   the read that follows by that token, and processed at once instead of waiting a lease.
   Another delivery never has the token, so it still waits and answers 503. What still waits
   a lease: a claim stored while the call failed to us (its retries spent, or its deadline
   passed); the delivery answers 5xx, and Stripe's redelivery, another attempt, finds the
   claim held until the lease lapses.
   The claim is committed together with the sync's ticket (one round trip, both or neither):
   the ticket is taken before Stripe is read, as the sync's ordering requires, and a
   duplicate takes none.
3. Sync the customer's entitlement from Stripe (:mod:`billing.entitlements.sync`) and build the
   notification the event calls for; record it in the claimed document (the outbox). An event
   with nothing to tell is marked done in that same write.
4. Publish what is recorded and not yet published, and mark it published and done in one write.

Every write after the claim is a compare-and-set on the claim, so a delivery that lost its
lease cannot record or finish over the one that took it over. One refused because it was
itself stored and its answer lost (the retry met the update time it changed) is told apart by
a read: our token still on the claim means nobody took over, so the write was ours, and the
delivery goes on instead of answering 503 and leaving the event to wait out its lease. Any
failure leaves the event unfinished and answers 5xx, so Stripe retries and the next delivery
resumes where this one stopped: nothing is lost, and nothing is done twice except a publish
interrupted before its mark, which consumers de-duplicate on the notification id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from billing.context import Context
from billing.entitlements import id_token, notifications, sync
from billing.errors import EVENT_IN_PROGRESS, UpstreamUnavailable
from core import call_counts
from core.firestore import firestore_retry, get_document
from core.leased_claims import held_by, lease_runs

log = logging.getLogger(__name__)

EVENTS = "stripe_events"
# Long enough for a delivery whose Stripe calls all time out and retry; a claim older than
# this belongs to a delivery that died.
LEASE = timedelta(seconds=150)
# Processed events are kept this long (a Firestore TTL policy on expire_at deletes them):
# longer than Stripe's 3 days of retries, so a late redelivery is still recognised.
KEEP = timedelta(days=30)
# How long a concurrent duplicate waits for the delivery that holds the claim.
WAIT_FOR_OWNER_S = 8.0

SUBSCRIPTION_EVENTS = frozenset(
    f"customer.subscription.{name}"
    for name in (
        "created",
        "updated",
        "deleted",
        "paused",
        "resumed",
        "trial_will_end",
        # A plan change that waited for its payment now applies: the plan, its price and
        # features change (Stripe: "the subscription is updated"). Its _expired twin changes
        # nothing (the plan stays), nor does checkout.session.expired (no subscription began):
        # neither is subscribed to.
        "pending_update_applied",
    )
)
INVOICE_EVENTS = frozenset(
    {"invoice.paid", "invoice.payment_failed", "invoice.payment_action_required"}
)
ENTITLEMENT_EVENTS = frozenset({"entitlements.active_entitlement_summary.updated"})
# A downgrade scheduled for the period end (DOWNGRADE_POLICY=period_end) changes the schedule's
# phases only, not the subscription: its pending plan arrives with this event alone. Made or at
# a phase change, the subscription changes too (customer.subscription.updated). Released (the
# user kept the plan, or someone released it in the Dashboard), Stripe's docs do not say that
# the subscription's update event follows, so the release itself is subscribed to: without it
# "Next plan" could show until the renewal's sync.
SCHEDULE_EVENTS = frozenset({"subscription_schedule.updated", "subscription_schedule.released"})
RELEVANT = SUBSCRIPTION_EVENTS | INVOICE_EVENTS | ENTITLEMENT_EVENTS | SCHEDULE_EVENTS


class InProgress(UpstreamUnavailable):
    error = EVENT_IN_PROGRESS


_CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]{1,255}$")


def customer_of(event: dict[str, Any]) -> str | None:
    """Whose state the event is about: the payload only says whom to sync."""
    customer = event["data"]["object"].get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) and _CUSTOMER_ID.match(customer) else None


@dataclass(frozen=True)
class Claim:
    ref: Any  # the event's DocumentReference
    # The claim as written, its owner token among it: not in a Claim's repr, so a Claim logged
    # by mistake prints no token.
    data: dict[str, Any] = field(repr=False)
    version: Any  # update_time of our last write: the compare-and-set token
    # The sync ticket committed with a fresh claim (its update time); None after a takeover
    # or any later write: the sync then takes its own.
    ticket: Any = None


def _ours(data: dict[str, Any], owner: str) -> bool:
    """The claim read is the one this attempt wrote (its token), still held: processing, its
    lease running. A done event stays done; a claim released since (its lease ended) is taken
    over as any other; one taken over since carries another delivery's token."""
    return held_by(data, owner, datetime.now(UTC)) and data.get("status") == "processing"


class Inbox:
    def __init__(self, ctx: Context) -> None:
        settings = ctx.runtime.settings
        self._db = ctx.runtime.firestore
        self._timeout = settings.firestore_timeout_seconds
        self._retry = firestore_retry(self._timeout)
        self.held: Claim | None = None  # our claim as last written

    def _kw(self) -> dict[str, Any]:
        return {"timeout": self._timeout, "retry": self._retry}

    def claim(self, event: dict[str, Any], uid: str) -> Claim | None:
        """Our claim on the event, or None when it is already done. Raises InProgress when
        another delivery holds a live claim for longer than we wait."""
        from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition

        ref = self._db.collection(EVENTS).document(event["id"])
        now = datetime.now(UTC)
        # This attempt's token (each create and each takeover draws its own): a read that finds
        # it knows the claim is ours. It stays in Firestore and the claim's data: never in a
        # log line or an answer.
        owner = uuid.uuid4().hex
        taking_over = False
        fresh = {
            "type": event["type"],
            "uid": uid,
            "status": "processing",
            "owner": owner,
            "lease_until": now + LEASE,
            "synced": False,
            "notification": None,
            "published": False,
            "received_at": now,
            "expire_at": now + KEEP,
        }
        # The claim (created only if no delivery made it before: the inbox's dedupe) and the
        # sync's ticket in one commit; refused as a whole when the claim exists.
        batch = self._db.batch()
        batch.create(ref, fresh)
        sync.take_ticket(batch, self._db, uid)
        call_counts.count(call_counts.FIRESTORE)
        try:
            claimed, ticket = batch.commit(**self._kw())
            self.held = Claim(ref, fresh, claimed.update_time, ticket.update_time)
            return self.held
        except (AlreadyExists, Conflict):
            pass
        deadline = time.monotonic() + WAIT_FOR_OWNER_S
        while True:
            call_counts.count(call_counts.FIRESTORE)
            snapshot = get_document(ref, **self._kw())
            data = snapshot.to_dict() or {}
            if _ours(data, owner):
                # Our last write was stored and its answer lost (a dropped connection); the
                # client's retry that sent it again met it: the create met AlreadyExists, the
                # takeover the update time it changed itself. The claim is ours, at the update
                # time read. No ticket: the one committed with a lost create has an update
                # time we do not know (the read is of the claim, and another sync may have
                # written the ticket document since). sync.sync then takes a ticket of its
                # own, as after a takeover: still before it reads Stripe, which is all its
                # ordering asks, and later than the lost one, which no sync carries, so it
                # orders nothing (it only moved the ticket document's update time, which a
                # concurrent sync's compare-and-set reads and gets past). One round trip more,
                # on this path only.
                if taking_over:
                    log.warning(
                        "took over an abandoned delivery", extra={"stripe_event_id": ref.id}
                    )
                self.held = Claim(ref, data, snapshot.update_time)
                return self.held
            if data.get("status") == "done":
                return None
            if lease_runs(data, datetime.now(UTC)):
                if time.monotonic() > deadline:
                    raise InProgress()
                time.sleep(0.2)
                continue
            # The delivery that held it died: take over, keeping what it recorded.
            owner, taking_over = uuid.uuid4().hex, True
            lease = {"owner": owner, "lease_until": datetime.now(UTC) + LEASE}
            call_counts.count(call_counts.FIRESTORE)
            try:
                result = ref.update(
                    lease,
                    option=self._db.write_option(last_update_time=snapshot.update_time),
                    **self._kw(),
                )
            except (FailedPrecondition, Conflict):
                # Another delivery took it over first, or ours was stored and its answer lost
                # (the read says which): look again.
                continue
            log.warning("took over an abandoned delivery", extra={"stripe_event_id": ref.id})
            self.held = Claim(ref, data | lease, result.update_time)
            return self.held

    def release(self) -> None:
        """Gives our lease up after a failure, so Stripe's next delivery resumes at once."""
        if self.held is None:
            return
        try:
            self.update(self.held, {"lease_until": datetime.now(UTC)})
        except Exception as exc:  # noqa: BLE001 - Firestore may be what failed: the lease expires
            log.info("could not release the claim: %s", type(exc).__name__)

    def update(self, claim: Claim, changes: dict[str, Any]) -> Claim:
        """Writes ``changes`` only if our claim still stands."""
        from google.api_core.exceptions import Conflict, FailedPrecondition

        call_counts.count(call_counts.FIRESTORE)
        try:
            result = claim.ref.update(
                changes, option=self._db.write_option(last_update_time=claim.version), **self._kw()
            )
        except (FailedPrecondition, Conflict):
            # Our lease lapsed and another delivery took over, or this write was stored and its
            # answer lost (the client's retry met the update time it changed itself): the read
            # says which. Only this module writes the claim, and a takeover always writes its
            # own token; so our token still there, with what this write wrote, means nobody
            # took over and the write was ours. Anything else: not ours, as before.
            self.held = None
            call_counts.count(call_counts.FIRESTORE)
            snapshot = get_document(claim.ref, **self._kw())
            data = snapshot.to_dict() or {}
            ours = data.get("owner") == claim.data.get("owner") and all(
                key in data and data[key] == value for key, value in changes.items()
            )
            if not ours:
                raise InProgress() from None  # our lease lapsed and another delivery took over
            self.held = Claim(claim.ref, data, snapshot.update_time)
            return self.held
        self.held = Claim(claim.ref, claim.data | changes, result.update_time)
        return self.held


def handle_event(ctx: Context, event: dict[str, Any]) -> str:
    """Applies a verified Stripe event; returns the outcome for the answer and the logs."""
    if event["type"] not in RELEVANT:
        return "ignored"
    customer_id = customer_of(event)
    if customer_id is None:
        # Not an object Stripe sends (another API version, or garbage under a valid signature):
        # acknowledged, so it is neither retried for days nor counted against the endpoint.
        # An unusable object id with a known customer still syncs that customer (the payload
        # only says whom to sync); notifications.build then has nothing to tell.
        log.warning("relevant event without a usable customer: ignored")
        return "ignored"
    uid = ctx.runtime.customers.uid_for(customer_id)
    if uid is None:
        log.info(
            "event about a customer this app does not know", extra={"customer_id": customer_id}
        )
        return "unknown_customer"
    inbox = Inbox(ctx)
    claim = inbox.claim(event, uid)
    if claim is None:
        return "duplicate"
    try:
        return _apply(ctx, inbox, claim, event, uid, customer_id)
    except stripe.InvalidRequestError as exc:
        inbox.release()
        # Stripe refused one of our reads (a 400 or 404): our bug, a key without a permission,
        # an id Stripe does not show us yet; never the sender's fault, so never a 4xx, which
        # Stripe would count toward disabling the endpoint. To Stripe every non-2xx is the
        # same: it redelivers on its own backoff for up to three days (docs.stripe.com/webhooks;
        # it documents no use of Retry-After), each delivery re-reading. 503 + Retry-After says
        # what is true for us: a service we depend on did not give us what the event needs,
        # retry later; the ERROR line (with Stripe's code) is what an operator acts on. A 500
        # is kept for a crash of our own.
        log.error("Stripe refused a read for this event", extra={"stripe_code": exc.code})
        raise UpstreamUnavailable(
            "Stripe refused a read this event needs; it is retried on redelivery."
        ) from None
    except BaseException:
        inbox.release()
        raise


def _apply(
    ctx: Context, inbox: Inbox, claim: Claim, event: dict[str, Any], uid: str, customer_id: str
) -> str:
    # The event is marked done in the write that records its last effect: its sync when there
    # is nothing to tell, its publish otherwise.
    done = {"status": "done", "outcome": "processed"}
    if not claim.data["synced"]:
        synced = sync.sync(ctx, uid, customer_id, taken=claim.ticket)
        state = synced.entitlement
        # Before the sync is recorded: a failed Auth call leaves the event unsynced, so
        # Stripe's next delivery syncs and writes the claim again. What this sync wrote is
        # known; a document that a newer sync wrote instead is read.
        known = (state.document(), synced.version) if synced.written else None
        id_token.publish_for(ctx, uid, known)
        message = notifications.build(ctx, event, state)
        if message is None:
            inbox.update(claim, {"synced": True, "notification": None} | done)
            return "processed"
        claim = inbox.update(claim, {"synced": True, "notification": message})
    message = claim.data["notification"]
    if message is not None and not claim.data["published"]:
        notifications.publish(ctx, message)
        inbox.update(claim, {"published": True} | done)
    else:
        # Only a record left between steps by the code before this write merge (synced with
        # nothing to tell, or published, but not done) gets here: it is finished, not redone.
        inbox.update(claim, done)
    return "processed"
