"""Billing notifications: what an event should tell the customer, and publishing it once.

The message is the versioned contract ``schemas/notification.v1.json``; its
``notification_id`` (event id + type) is the consumers' de-duplication key. The webhook
records a notification in the same write that marks its event processed (the outbox, see
:mod:`billing.entitlements.events`), publishes it, then marks it published, so a crash in between is
repaired by the next delivery of the event, and a duplicate is never published twice by two
deliveries at once.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import stripe

from billing.context import Context
from billing.entitlements.sync import Entitlement
from billing.errors import UpstreamUnavailable
from billing.translate import is_resource_missing
from core import call_counts

log = logging.getLogger(__name__)

VERSION = 1
_INVOICE_ID = re.compile(r"^in_[A-Za-z0-9]{1,255}$")
_SUBSCRIPTION_ID = re.compile(r"^sub_[A-Za-z0-9]{1,255}$")
# Stripe event type -> notification type. invoice.payment_succeeded is left out: Stripe sends
# it beside invoice.paid, and one receipt is enough.
TYPES = {
    "invoice.paid": "payment_succeeded",
    "invoice.payment_failed": "payment_failed",
    "invoice.payment_action_required": "payment_action_required",
    "customer.subscription.deleted": "subscription_canceled",
    "customer.subscription.trial_will_end": "trial_will_end",
}

type Message = dict[str, Any]


def _invoice_block(invoice: stripe.Invoice) -> dict[str, Any]:
    lines = invoice.lines.data if invoice.lines else []
    period = lines[0].period if lines else None
    return {
        "id": invoice.id,
        "number": invoice.number,
        "currency": invoice.currency,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "period_start": period.start if period else None,
        "period_end": period.end if period else None,
        # Stripe omits both on a draft invoice; a webhook's invoices are finalized, but a
        # missing key must not crash the delivery.
        "hosted_invoice_url": invoice.hosted_invoice_url
        if "hosted_invoice_url" in invoice
        else None,
        "invoice_pdf": invoice.invoice_pdf if "invoice_pdf" in invoice else None,
        "next_payment_attempt": invoice.next_payment_attempt,
    }


def _subscription_block(sub: stripe.Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "status": sub.status,
        "current_period_end": max(
            (item.current_period_end for item in sub.items.data), default=None
        ),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "ended_at": sub.ended_at,
        "trial_end": sub.trial_end,
    }


# What the re-read object must still say for the notification to be true: an event that
# arrives late (after an outage) must not tell a customer whose invoice is paid to fix their card.
STILL_TRUE: dict[str, tuple[str, ...]] = {
    "payment_succeeded": ("paid",),
    "payment_failed": ("open",),
    "payment_action_required": ("open",),
    # incomplete_expired is left out: such a subscription never started, its first payment
    # never succeeded, so there is nothing to tell its customer "canceled" about
    # (https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle).
    "subscription_canceled": ("canceled",),
    "trial_will_end": ("trialing",),
}
# A first invoice's failure or 3-D Secure request happens while the customer is on the payment
# form (payment_behavior=default_incomplete: the form confirms the invoice's payment and shows
# Stripe's answer at once); a mail about it would arrive beside the form's own message.
# https://docs.stripe.com/payments/advanced/build-subscriptions (confirm the payment on the client)
ON_THE_FORM = frozenset({"payment_failed", "payment_action_required"})


def _never_started(client: stripe.StripeClient, subscription_id: str) -> bool:
    """True when no invoice of the subscription was ever paid: an unfinished checkout that was
    abandoned (cancelled while incomplete). A trial counts as started: Stripe pays its $0
    first invoice at once."""
    paid = client.v1.invoices.list(
        params={"subscription": subscription_id, "status": "paid", "limit": 1}
    )
    return not paid.data


def _failure_worth_a_mail(
    client: stripe.StripeClient, sent: dict[str, Any], invoice: stripe.Invoice
) -> bool:
    """Which failed attempts of a renewal the customer hears about (docs/emails.md, "Failed
    renewals"): the first one, saying when Stripe retries, and the last one, once no retry is
    left; not each retry in between, which would only repeat "we will try again".

    Stripe retries on the account's schedule (Smart Retries or a custom one) and each failure
    sends ``invoice.payment_failed`` with ``attempt_count`` and ``next_payment_attempt``, null
    once it will not try again (https://docs.stripe.com/billing/revenue-recovery/smart-retries;
    https://docs.stripe.com/api/invoices/object#invoice_object-next_payment_attempt). Which
    attempt an event is about is read from the event (a late delivery must not be taken for a
    later attempt); when the last failure canceled the subscription ("cancel the subscription"
    setting), its "subscription canceled" mail says so and this one would contradict it."""
    attempt = sent.get("attempt_count")
    attempt = attempt if isinstance(attempt, int) else invoice.attempt_count
    if attempt <= 1:
        return True
    next_attempt = sent.get("next_payment_attempt", invoice.next_payment_attempt)
    if next_attempt is not None:
        log.info("a retry failed and another follows: no mail", extra={"attempt": attempt})
        return False
    subscription_id = _subscription_of(invoice)
    if subscription_id is not None:
        sub = client.v1.subscriptions.retrieve(subscription_id)
        if sub.status == "canceled":
            log.info("the last retry failed and ended the subscription: its own mail says so")
            return False
    return True


def _subscription_of(invoice: stripe.Invoice) -> str | None:
    parent = invoice.parent if "parent" in invoice else None
    details = parent.subscription_details if parent and "subscription_details" in parent else None
    if details is None or "subscription" not in details:
        return None
    return _id(details.subscription)


def _still_true(kind: str, status: str | None, owner: str | None, customer_id: str) -> bool:
    if owner != customer_id:
        # An event naming one customer and another's object: never mail anyone about it.
        log.warning("event object belongs to another customer: no notification")
        return False
    if status not in STILL_TRUE[kind]:
        log.info("superseded: no notification", extra={"type": kind, "status": status})
        return False
    return True


def build(ctx: Context, event: dict[str, Any], state: Entitlement) -> Message | None:
    """The notification ``event`` calls for, from objects re-read from Stripe (the payload may
    be stale or of another API version), or None when the event no longer holds true."""
    kind = TYPES.get(event["type"])
    if kind is None:
        return None
    client = ctx.runtime.stripe
    is_invoice = event["type"].startswith("invoice.")
    object_id = event["data"]["object"].get("id")
    pattern = _INVOICE_ID if is_invoice else _SUBSCRIPTION_ID
    if not (isinstance(object_id, str) and pattern.match(object_id)):
        # Not an object Stripe could have sent for this type (found by the webhook fuzz): the
        # sync has already happened; there is nothing to tell the customer about.
        log.warning("event object has no usable id: no notification")
        return None
    invoice_block = subscription_block = None
    try:
        if is_invoice:
            invoice = client.v1.invoices.retrieve(object_id)
            if not _still_true(kind, invoice.status, _id(invoice.customer), state.customer_id):
                return None
            if kind == "payment_succeeded" and invoice.amount_paid == 0:
                return None  # a trial's or a fully discounted invoice: nothing was charged
            if kind in ON_THE_FORM and invoice.billing_reason == "subscription_create":
                log.info("first payment of a checkout: the form shows it, no mail")
                return None
            if kind == "payment_failed" and not _failure_worth_a_mail(
                client, event["data"]["object"], invoice
            ):
                return None
            invoice_block = _invoice_block(invoice)
        else:
            sub = client.v1.subscriptions.retrieve(object_id)
            if not _still_true(kind, sub.status, _id(sub.customer), state.customer_id):
                return None
            if kind == "subscription_canceled" and _never_started(client, sub.id):
                log.info("an unfinished checkout ended: no mail for what never started")
                return None
            subscription_block = _subscription_block(sub)
        customer = client.v1.customers.retrieve(state.customer_id)
        product_name = None
        if state.product_id:
            product_name = client.v1.products.retrieve(state.product_id).name
    except stripe.InvalidRequestError as exc:
        if not is_resource_missing(exc):
            raise
        log.warning("the event's object is gone from Stripe: no notification")
        return None
    return {
        "version": VERSION,
        "notification_id": f"{event['id']}:{kind}",
        "type": kind,
        "occurred_at": event["created"],
        "livemode": event["livemode"],
        "uid": state.uid,
        "email": customer.email if "email" in customer else None,
        "customer_name": customer.name if "name" in customer else None,
        "product_name": product_name,
        "subscription": subscription_block,
        "invoice": invoice_block,
    }


def _id(field: Any) -> str | None:
    return field if isinstance(field, str) or field is None else str(field.id)


def publish(ctx: Context, message: Message) -> None:
    """Publishes and waits for the server's acknowledgement (bounded by the settings)."""
    rt = ctx.runtime
    settings = rt.settings
    publisher = rt.publisher
    topic = publisher.topic_path(settings.google_cloud_project, settings.notifications_topic)
    call_counts.count(call_counts.PUBSUB)
    try:
        future = publisher.publish(
            topic,
            json.dumps(message, separators=(",", ":")).encode(),
            type=message["type"],
            version=str(message["version"]),
            notification_id=message["notification_id"],
        )
        future.result(timeout=settings.pubsub_timeout_seconds)
    except Exception as exc:  # any failure: the event is retried by Stripe
        log.warning("publishing a notification failed: %s", type(exc).__name__)
        raise UpstreamUnavailable("The notifications topic is unavailable.") from exc
    log.info(
        "notification published",
        extra={"notification_id": message["notification_id"], "type": message["type"]},
    )
