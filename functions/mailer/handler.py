"""The email function's entry point: one Pub/Sub push (a messagePublished CloudEvent) per call.

What the push gets back is what Pub/Sub does next:
- returns normally (2xx): acknowledged. The mail was sent, was sent before, or can never be
  sent (not JSON, not the contract, unknown type or version, no address); the last is logged
  as one ERROR line naming why, and never retried.
- raises :class:`core.pubsub_push.Redeliver` (non-2xx): delivered again after the
  subscription's backoff, and after its maximum attempts moved to the dead-letter topic.
  SMTP or Firestore failed, or another delivery of the same notification is sending it now.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from google.api_core.exceptions import GoogleAPIError

from core import call_counts, firestore, logs, pubsub_push
from core.pubsub_push import Redeliver, Unprocessable
from mailer import contract
from mailer.compose import Brand, Composer, recipient
from mailer.config import MailSettings, load_settings
from mailer.once import Claims, FirestoreClaims, State
from mailer.smtp import Sender, SendFailed, SmtpSender

log = logging.getLogger("mailer")


class Outcome(Enum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    UNSENDABLE = "unsendable"
    SENT_UNRECORDED = "sent_unrecorded"


class Mailer:
    def __init__(
        self,
        composer: Composer,
        claims: Claims,
        sender: Sender,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.composer = composer
        self.claims = claims
        self.sender = sender
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: MailSettings) -> Mailer:
        """The mailer a deployed instance runs: Firestore claims, the configured relay."""
        claims = FirestoreClaims(
            firestore.client(settings.google_cloud_project),
            lease=timedelta(seconds=settings.mail_claim_lease_seconds),
            keep=timedelta(days=settings.mail_dedupe_days),
            timeout=settings.firestore_timeout_seconds,
        )
        return cls(Composer(Brand.from_settings(settings)), claims, SmtpSender(settings))

    def handle(self, event_data: Any) -> Outcome:
        """Sends the mail of one messagePublished event's data, at most once; see the module."""
        with logs.context(), call_counts.measure() as counts:
            outcome = self._handle(event_data)
            if outcome in (Outcome.SENT, Outcome.ALREADY_SENT):
                log.info(
                    "sent" if outcome is Outcome.SENT else "already sent: not sent again",
                    extra={
                        "outcome": outcome.value,
                        call_counts.SMTP: counts.get(call_counts.SMTP, 0),
                        call_counts.FIRESTORE: counts.get(call_counts.FIRESTORE, 0),
                    },
                )
            return outcome

    def _handle(self, event_data: Any) -> Outcome:
        try:
            message = pubsub_push.message_of(event_data)
            logs.bind(pubsub_message_id=message.message_id)
            version = message.attributes.get("version")
            if version is not None and version != str(contract.VERSION):
                raise Unprocessable(
                    "unknown_version", f"version {version[:20]!r} is not one this function reads"
                )
            notification = contract.parse(message.data)
            logs.bind(
                notification_id=notification.notification_id,
                notification_type=notification.type,
                uid=notification.uid,
            )
            pubsub_push.check_attributes(
                message.attributes,
                {
                    "version": str(notification.version),
                    "type": notification.type,
                    "notification_id": notification.notification_id,
                },
            )
            to = recipient(notification)
        except Unprocessable as error:
            return self._unsendable(error)
        return self._send_once(notification, to)

    def _unsendable(self, error: Unprocessable) -> Outcome:
        log.error(
            "notification not sent and not retried: %s", error, extra={"reason": error.reason}
        )
        return Outcome.UNSENDABLE

    def _send_once(self, notification: contract.Notification, to: str) -> Outcome:
        # Rendered before the claim: a message that cannot be rendered leaves no claim behind.
        mail = self.composer.compose(notification, to, self.clock())
        details = {
            "type": notification.type,
            "uid": notification.uid,
            "message_id": mail["Message-ID"],
        }
        try:
            claim = self.claims.claim(notification.notification_id, self.clock(), details)
        except GoogleAPIError as error:
            log.error("cannot claim the notification in Firestore: %s", type(error).__name__)
            raise Redeliver("Firestore unavailable") from None
        if claim.state is State.SENT:
            return Outcome.ALREADY_SENT
        if claim.state is State.IN_FLIGHT:
            log.warning("another delivery is sending this notification: retry later")
            raise Redeliver("being sent by another delivery", status=409)
        call_counts.count(call_counts.SMTP)
        try:
            self.sender.send(mail, self.composer.brand.address, to)
        except SendFailed as error:
            log.error("the relay did not take the mail: %s", error)
            # If this fails too, the lease lapses on its own and the retry just waits for it.
            with contextlib.suppress(GoogleAPIError):
                self.claims.release(claim, self.clock(), str(error))
            raise Redeliver("SMTP failed") from None
        try:
            self.claims.mark_sent(claim, self.clock())
        except GoogleAPIError as error:
            # Sent: acknowledging is right, so this delivery never sends it again. Only a
            # duplicate delivery after the lease lapses could; see mailer.once.
            log.error("sent, but not recorded as sent: %s", type(error).__name__)
            return Outcome.SENT_UNRECORDED
        return Outcome.SENT


_mailer: Mailer | None = None
_lock = threading.Lock()


def current() -> Mailer:
    """This instance's mailer, built on first use from the instance's settings."""
    global _mailer  # one per instance: its clients are shared by every delivery
    if _mailer is None:
        with _lock:
            if _mailer is None:
                _mailer = Mailer.from_settings(load_settings())
    return _mailer


def send_email(cloud_event: Any) -> None:
    """Entry point (``app.registry``): one Pub/Sub message in, at most one mail out."""
    with logs.context(function="send-email", event_id=str(cloud_event["id"])):
        current().handle(cloud_event.data)
