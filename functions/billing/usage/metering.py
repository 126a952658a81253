"""The metering function: one usage message (a Pub/Sub push) in, one Stripe meter event out.

What the push gets back is what Pub/Sub does next:
- returns (2xx): acknowledged. The usage was recorded now or before, or kept (``held``) or
  refused by the rules below, each logged once with its reason.
- raises :class:`core.pubsub_push.Redeliver` (non-2xx): delivered again after the
  subscription's backoff, and after its maximum attempts moved to the dead-letter topic
  (where an alert fires). Stripe or Firestore failed, or another delivery of the same
  usage is recording it right now.

The rules for usage that cannot be billed (none is dropped silently):
- the subject has no Stripe customer: ``held`` in the ledger with the usage, not sent. Free
  usage never turns into a charge later, and the held documents say what was used.
- the subject has a customer but no metered subscription item: recorded in Stripe all the
  same. Stripe keeps meter events per customer, summaries show them, and an invoice bills the
  events inside a metered item's period only; the usage page shows it as unbilled use.
- the message breaks the contract, or Stripe refuses the event for good (an unknown meter, a
  customer deleted in Stripe, a timestamp older than Stripe's 35 days): ``refused`` (in the
  ledger when the message has a usable id), logged as an ERROR naming why; never retried.

Volume: each usage is one v1 meter event call. Stripe's v1 endpoint takes 1,000 calls per
second in live mode and one concurrent call per customer per meter
(https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage-api, "Rate
limits"); its answers are 429 past that, which this function redelivers with backoff. The v2
meter event stream takes batches of 100 up to 10,000 events per second but validates
asynchronously (https://docs.stripe.com/api/v2/billing/meter-event-stream/create): an event
for a wrong customer would be lost without an answer, so v1 stays until the measured volume
(``make bench``) needs more.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from google.api_core.exceptions import GoogleAPIError

from billing import runtime
from billing.state import metered_usage as ledger
from billing.state.metered_usage import Claim, FirestoreLedger, Ledger, State
from billing.usage import contract
from billing.usage.contract import UsageMessage
from core import call_counts, logs, pubsub_push
from core.pubsub_push import Redeliver, Unprocessable

if TYPE_CHECKING:
    import stripe

    from billing.runtime import Runtime
    from billing.state.customers import Customers

log = logging.getLogger("metering")

# Stripe answers a repeated identifier with this (v1 has no error code for it).
DUPLICATE_MESSAGE = "An event already exists with identifier"
LINKED_CACHE = 10_000  # subjects whose customer an instance remembers


class Outcome(Enum):
    RECORDED = "recorded"
    ALREADY_DONE = "already_done"
    HELD = "held"
    REFUSED = "refused"
    RECORDED_UNMARKED = "recorded_unmarked"


class Metering:
    def __init__(
        self,
        ledger_: Ledger,
        customers: Customers,
        stripe_client: stripe.StripeClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledger = ledger_
        self.customers = customers
        self.stripe = stripe_client
        self.clock = clock
        # subject -> Stripe customer, only once linked: a link never changes (one customer per
        # user, ever: billing.state.customers), so remembering it saves a read per message.
        self._linked: dict[str, str] = {}
        self._linked_lock = threading.Lock()

    @classmethod
    def from_runtime(cls, rt: Runtime) -> Metering:
        settings = rt.settings
        store = FirestoreLedger(
            rt.firestore,
            lease=timedelta(seconds=settings.metering_lease_seconds),
            keep=timedelta(days=settings.metering_keep_days),
            timeout=settings.firestore_timeout_seconds,
        )
        return cls(store, rt.customers, rt.stripe)

    def handle(self, event_data: Any) -> Outcome:
        with logs.context(), call_counts.measure() as counts:
            outcome = self._handle(event_data)
            log.info(
                outcome.value,
                extra={
                    "outcome": outcome.value,
                    call_counts.STRIPE: counts.get(call_counts.STRIPE, 0),
                    call_counts.FIRESTORE: counts.get(call_counts.FIRESTORE, 0),
                },
            )
            return outcome

    def _handle(self, event_data: Any) -> Outcome:
        try:
            message = pubsub_push.message_of(event_data)
            logs.bind(pubsub_message_id=message.message_id)
            usage = contract.parse(message.data)
            logs.bind(usage_id=usage.id, meter=usage.meter, subject=usage.subject)
            pubsub_push.check_attributes(message.attributes, {"id": usage.id, "meter": usage.meter})
        except Unprocessable as error:
            log.error("usage refused, not retried: %s", error, extra={"reason": error.reason})
            return Outcome.REFUSED
        return self._record_once(usage)

    def _record_once(self, usage: UsageMessage) -> Outcome:
        details = {
            "subject": usage.subject,
            "meter": usage.meter,
            "value": usage.value,
            "timestamp": usage.timestamp,
        }
        try:
            claim = self.ledger.claim(usage.id, usage.digest(), self.clock(), details)
        except GoogleAPIError as error:
            log.error("cannot claim the usage in Firestore: %s", type(error).__name__)
            raise Redeliver("Firestore unavailable") from None
        if claim.state is State.DONE:
            return Outcome.ALREADY_DONE
        if claim.state is State.CONFLICT:
            log.error(
                "usage refused, not retried: this id was reported before with other contents",
                extra={"reason": "id_reused"},
            )
            return Outcome.REFUSED
        if claim.state is State.IN_FLIGHT:
            log.warning("another delivery is recording this usage: retry later")
            raise Redeliver("being recorded by another delivery", status=409)
        return self._record(usage, claim)

    def _customer_of(self, subject: str) -> str | None:
        if subject in self._linked:
            return self._linked[subject]
        record = self.customers.get(subject)  # counts its own round trip
        if record is None or record.customer_id is None:
            return None
        with self._linked_lock:
            if len(self._linked) >= LINKED_CACHE:
                self._linked.clear()  # bounded memory; the next reads refill it
            self._linked[subject] = record.customer_id
        return record.customer_id

    def _record(self, usage: UsageMessage, claim: Claim) -> Outcome:
        try:
            customer_id = self._customer_of(usage.subject)
        except GoogleAPIError as error:
            self._release(claim, f"customer lookup: {type(error).__name__}")
            raise Redeliver("Firestore unavailable") from None
        if customer_id is None:
            log.warning("usage held: the subject has no Stripe customer", extra={"reason": "held"})
            return self._finish(claim, ledger.HELD, {"reason": "no_customer"}, Outcome.HELD)
        outcome, details = self._send(usage, customer_id, claim)
        return self._finish(
            claim,
            ledger.RECORDED if outcome is Outcome.RECORDED else ledger.REFUSED,
            details,
            outcome,
        )

    def _send(
        self, usage: UsageMessage, customer_id: str, claim: Claim
    ) -> tuple[Outcome, dict[str, Any]]:
        import stripe

        try:
            self.stripe.v1.billing.meter_events.create(
                params={
                    "event_name": usage.meter,
                    "identifier": usage.id,
                    "timestamp": usage.timestamp,
                    "payload": {"stripe_customer_id": customer_id, "value": str(usage.value)},
                }
            )
        except stripe.InvalidRequestError as error:
            if DUPLICATE_MESSAGE in str(error.user_message or error):
                # Sent by an earlier delivery that died before its mark (within Stripe's window).
                return Outcome.RECORDED, {"customer_id": customer_id, "repeat": True}
            log.error(
                "usage refused, not retried: Stripe refused the meter event (%s)",
                error.user_message,
                extra={"reason": "stripe_refused", "stripe_code": error.code},
            )
            return Outcome.REFUSED, {
                "reason": "stripe_refused",
                "stripe_message": str(error.user_message)[:300],
            }
        except stripe.StripeError as error:
            log.error("Stripe did not take the meter event: %s", type(error).__name__)
            self._release(claim, f"stripe: {type(error).__name__}")
            raise Redeliver("Stripe unavailable") from None
        return Outcome.RECORDED, {"customer_id": customer_id}

    def _finish(
        self, claim: Claim, status: str, details: dict[str, Any], outcome: Outcome
    ) -> Outcome:
        try:
            self.ledger.finish(claim, status, self.clock(), details)
        except GoogleAPIError as error:
            if outcome is not Outcome.RECORDED:
                self._release(claim, f"finish: {type(error).__name__}")
                raise Redeliver("Firestore unavailable") from None
            # In Stripe already: acknowledging is right. A redelivery after the lease would
            # send it again, and Stripe refuses the repeat within its 24 hours.
            log.error("recorded, but not marked in the ledger: %s", type(error).__name__)
            return Outcome.RECORDED_UNMARKED
        return outcome

    def _release(self, claim: Claim, error: str) -> None:
        # If this fails, the lease lapses on its own; the retry only waits for it.
        with contextlib.suppress(GoogleAPIError):
            self.ledger.release(claim, self.clock(), error)


_metering: Metering | None = None
_lock = threading.Lock()


def current() -> Metering:
    global _metering  # one per instance, like the runtime it is built from
    if _metering is None:
        with _lock:
            if _metering is None:
                _metering = Metering.from_runtime(runtime.current())
    return _metering


def record_usage(cloud_event: Any) -> None:
    """Entry point (``app.registry``): one usage message in, at most one meter event out."""
    with logs.context(function="record-usage", event_id=str(cloud_event["id"])):
        current().handle(cloud_event.data)
