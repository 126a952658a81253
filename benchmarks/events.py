"""Per-instance rates of the event side: webhook events processed, mails sent.

Webhook events: one fresh ``stripe-webhook`` instance takes validly signed events about the
benchmark's users (subscription updates, entitlement summaries and paid invoices, which also
publish a notification) from 8 concurrent senders, one in five a redelivery of an event
processed earlier. Every answer must be 200 (processed or duplicate). With a baseline, the
functions at that git ref are measured beside it (A B B A), each side with its own events.

Mails: only when the package has an email function (``send_email`` in the registry): the
notifications topic gets valid v1 messages and the mails reaching the SMTP sink are counted.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import stripe

from benchmarks.bench_stack import Bench, User, run_driver, wait_port
from devstack.stripe_standin import objects
from devstack.stripe_standin.options import API_VERSION

SENDERS = 8
DUPLICATE_EVERY = 5
DUPLICATE_DISTANCE = 40  # a redelivery of an event sent this many positions earlier


def event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A test-mode event about ``obj``, built as the stand-in builds them."""
    event_id = f"evt_bench{uuid.uuid4().hex[:20]}"
    now = int(time.time())
    built = objects.event(event_id, event_type, obj, None, now, None, None, API_VERSION)
    return built | {"pending_webhooks": 1}


def signed(event: dict[str, Any], secret: str) -> dict[str, Any]:
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=int(time.time())
    )
    return {
        "body": body,
        "headers": {"Stripe-Signature": header, "Content-Type": "application/json"},
    }


def _stream(subscribed: list[User], customers: list[User], count: int) -> tuple[list[Any], int]:
    """``count`` fresh events (new ids) about the benchmark's users, with one in five followed
    by a redelivery of an event sent earlier; and how many redeliveries."""
    fresh: list[dict[str, Any]] = []
    for n in range(count):
        if n % 4 == 3:
            user = subscribed[n % len(subscribed)]
            obj = {"id": user.ids["invoice"], "object": "invoice", "customer": user.ids["customer"]}
            fresh.append(event("invoice.paid", obj))
        elif n % 2:
            user = subscribed[n % len(subscribed)]
            obj = {
                "id": user.ids["subscription"],
                "object": "subscription",
                "customer": user.ids["customer"],
            }
            fresh.append(event("customer.subscription.updated", obj))
        else:
            user = customers[n % len(customers)]
            obj = {
                "object": "entitlements.active_entitlement_summary",
                "customer": user.ids["customer"],
            }
            fresh.append(event("entitlements.active_entitlement_summary.updated", obj))
    sent: list[dict[str, Any]] = []
    duplicates = 0
    for n, fresh_event in enumerate(fresh):
        sent.append(fresh_event)
        if n >= DUPLICATE_DISTANCE and n % DUPLICATE_EVERY == 0:
            sent.append(fresh[n - DUPLICATE_DISTANCE])
            duplicates += 1
    return sent, duplicates


def webhook_events(
    bench: Bench,
    subscribed: list[User],
    customers: list[User],
    count: int,
    baseline: Path | None = None,
) -> Any:
    """Events per second of one instance, and its CPU per event. With ``baseline`` (the
    functions at another git ref) both sides are measured in two halves each, in the order
    A B B A, each half with events of its own (an event is processed once): whichever side
    runs first meets colder emulator and stand-in paths, and neither may always be it."""
    secret = bench.info.stripe.webhook_secret
    assert secret is not None
    subjects: list[tuple[str, Path | None]] = [("ours", None)]
    if baseline is not None:
        subjects.append(("baseline", baseline))
    passes = [subjects, subjects[::-1]] if baseline is not None else [subjects]
    per_half = max(count // len(passes), 1)
    totals: dict[str, dict[str, Any]] = {}
    for order in passes:
        for name, source in order:
            sent, duplicates = _stream(subscribed, customers, per_half)
            bodies = [signed(e, secret) for e in sent]
            instance = bench.spawn("stripe_webhook", source=source)
            try:
                wait_port(instance)
                cpu = instance.cpu_seconds()
                rows = run_driver(instance.url, bodies, clients=SENDERS, count=len(bodies))
                cpu = instance.cpu_seconds() - cpu
            finally:
                instance.stop()
            elapsed = max(end for _, end, _, _ in rows) - min(start for start, _, _, _ in rows)
            total = totals.setdefault(
                name, {"events": 0, "duplicates": 0, "non_200": 0, "seconds": 0.0, "cpu": 0.0}
            )
            total["events"] += len(rows)
            total["duplicates"] += duplicates
            total["non_200"] += sum(1 for _, _, status, _ in rows if status != 200)
            total["seconds"] += elapsed
            total["cpu"] += cpu
            total.setdefault("halves_per_second", []).append(round(len(rows) / elapsed, 1))
    return {"senders": SENDERS} | {
        name: {
            "events": total["events"],
            "duplicates": total["duplicates"],
            "non_200": total["non_200"],
            "per_second": round(total["events"] / total["seconds"], 1),
            "halves_per_second": total["halves_per_second"],
            "cpu_ms_per_event": round(total["cpu"] * 1000 / total["events"], 2),
        }
        for name, total in totals.items()
    }


def has_email_function() -> bool:
    from app.registry import FUNCTIONS

    return any(fn.name == "send_email" for fn in FUNCTIONS)


def mails(bench: Bench, count: int = 100, timeout: float = 120.0) -> Any:
    """Mails per second through the email function, from publish to the SMTP sink."""
    if not has_email_function():
        return "n/a: no email function"
    info = bench.info
    topic = f"projects/{info.project_id}/topics/{info.notifications_topic}"
    api = f"http://{info.pubsub_emulator_host}/v1/{topic}:publish"
    before = len(list(info.mail_dir.glob("**/*.eml")))
    messages = []
    for n in range(count):
        notification = {
            "version": 1,
            "notification_id": f"evt_bench{uuid.uuid4().hex[:16]}:payment_succeeded",
            "type": "payment_succeeded",
            "occurred_at": int(time.time()),
            "livemode": False,
            "uid": f"bench-mail-{n}",
            "email": f"bench-mail-{n}@example.com",
            "customer_name": "Bench",
            "product_name": "Basic",
            "subscription": None,
            "invoice": {
                "id": f"in_bench{n}",
                "number": f"BENCH-{n}",
                "currency": "usd",
                "amount_due": 1000,
                "amount_paid": 1000,
                "period_start": int(time.time()),
                "period_end": int(time.time()) + 2_592_000,
                "hosted_invoice_url": None,
                "invoice_pdf": None,
                "next_payment_attempt": None,
            },
        }
        attributes = {
            "type": "payment_succeeded",
            "version": "1",
            "notification_id": notification["notification_id"],
        }
        data = base64.b64encode(json.dumps(notification).encode()).decode()
        messages.append({"data": data, "attributes": attributes})
    started = time.perf_counter()
    for chunk in range(0, count, 50):
        requests.post(api, json={"messages": messages[chunk : chunk + 50]}, timeout=30)
    deadline = started + timeout
    while (sent := len(list(info.mail_dir.glob("**/*.eml"))) - before) < count:
        if time.perf_counter() > deadline:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    return {"mails": sent, "of": count, "per_second": round(sent / elapsed, 1)}
