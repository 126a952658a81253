"""Webhook delivery from a background thread, signed as Stripe signs it.

Each event is POSTed as JSON with ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>``. Any 2xx acknowledges; anything else (or a connection error) is retried with
exponential backoff up to ``max_attempts``. The signature timestamp is real time, not the
stand-in's clock, so ``stripe.Webhook.construct_event``'s tolerance check passes after the clock
has been advanced.

Tests can hold deliveries (``pause``) and release them in a chosen order (``resume``) to
exercise out-of-order handling, and re-send an event (``redeliver``) to exercise duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import requests

from devstack.stripe_standin import ids

log = logging.getLogger("devstack.stripe_standin.delivery")

JSONDict = dict[str, Any]
Order = Literal["as_is", "reverse", "shuffle"]
ORDERS = ("as_is", "reverse", "shuffle")


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None
    secret: str
    max_attempts: int
    backoff_s: float
    timeout_s: float
    payload: str = "snapshot"  # or "thin"


@dataclass
class _Job:
    event_id: str
    event_type: str
    body: bytes
    attempt: int
    due: float
    seq: int
    redelivery: bool


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def encode_event(event: JSONDict) -> bytes:
    return json.dumps(event, indent=2).encode()


# Where a thin event's related object is read (its ``url``), by the object's type.
_RETRIEVE_PATHS = {
    "subscription": "/v1/subscriptions/",
    "invoice": "/v1/invoices/",
    "customer": "/v1/customers/",
    "payment_intent": "/v1/payment_intents/",
    "setup_intent": "/v1/setup_intents/",
    "payment_method": "/v1/payment_methods/",
    "checkout.session": "/v1/checkout/sessions/",
    "subscription_schedule": "/v1/subscription_schedules/",
}


def thin_event(event: JSONDict) -> JSONDict:
    """The thin form of a snapshot event, as an event destination with
    ``event_payload=thin`` sends it: no object, only a reference to fetch it by
    (https://docs.stripe.com/event-destinations#thin-events: "unversioned ... you must fetch
    the versioned event from the API or fetch the resource's current state"). The shape is
    stripe-python's ``EventNotification``: ``object`` "v2.core.event", the type prefixed
    ``v1.``, ``created`` an RFC 3339 string, ``related_object`` {id, type, url} for the event
    types that have one (an entitlement summary's has none)."""
    obj = event["data"]["object"]
    created = datetime.fromtimestamp(int(event["created"]), UTC)
    thin: JSONDict = {
        "id": event["id"],
        "object": "v2.core.event",
        "type": f"v1.{event['type']}",
        "created": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "livemode": event["livemode"],
    }
    path = _RETRIEVE_PATHS.get(obj.get("object", ""))
    if path is not None and isinstance(obj.get("id"), str):
        thin["related_object"] = {"id": obj["id"], "type": obj["object"], "url": path + obj["id"]}
    return thin


class WebhookDispatcher:
    def __init__(
        self,
        settings: Callable[[], WebhookSettings],
        on_acknowledged: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._on_acknowledged = on_acknowledged
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._held: list[_Job] = []
        self._deliveries: list[JSONDict] = []
        self._paused = False
        self._in_flight = 0
        self._stopped = False
        self._seq = itertools.count()
        self._thread = threading.Thread(
            target=self._run, name="stripe-standin-webhooks", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- producers (called with the state lock held: keep them quick) ---------------------

    def submit(self, events: list[JSONDict]) -> None:
        if self._settings().url is None:
            return
        for event in events:
            self._enqueue(event, redelivery=False)

    def redeliver(self, event: JSONDict) -> None:
        self._enqueue(event, redelivery=True)

    def _enqueue(self, event: JSONDict, *, redelivery: bool) -> None:
        job = _Job(
            event_id=event["id"],
            event_type=event["type"],
            body=encode_event(thin_event(event) if self._settings().payload == "thin" else event),
            attempt=0,
            due=time.monotonic(),
            seq=next(self._seq),
            redelivery=redelivery,
        )
        with self._cond:
            (self._held if self._paused else self._queue).append(job)
            self._cond.notify_all()

    # --- control ---------------------------------------------------------------------------

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self, order: Order = "as_is") -> int:
        with self._cond:
            released = list(self._held)
            self._held.clear()
            self._paused = False
            if order == "reverse":
                released.reverse()
            elif order == "shuffle":
                random.shuffle(released)
            now = time.monotonic()
            for job in released:
                job.due = now
                job.seq = next(self._seq)
            self._queue.extend(released)
            self._cond.notify_all()
            return len(released)

    def status(self) -> JSONDict:
        with self._cond:
            return {
                "paused": self._paused,
                "queued": len(self._queue),
                "held": len(self._held),
                "in_flight": self._in_flight,
            }

    def deliveries(self, event_id: str | None = None) -> list[JSONDict]:
        with self._cond:
            return [dict(d) for d in self._deliveries if event_id in (None, d["event_id"])]

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self._held.clear()
            self._deliveries.clear()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or in flight (held events do not count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # --- worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        session = requests.Session()
        try:
            while True:
                job = self._take()
                if job is None:
                    return
                try:
                    self._deliver(session, job)
                except Exception:
                    log.exception("webhook worker failed delivering %s", job.event_id)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
        finally:
            session.close()

    def _take(self) -> _Job | None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                due = [job for job in self._queue if job.due <= now]
                if due:
                    job = min(due, key=lambda j: (j.due, j.seq))
                    self._queue.remove(job)
                    self._in_flight += 1
                    return job
                wait = min((job.due for job in self._queue), default=now + 1.0) - now
                self._cond.wait(max(0.01, min(wait, 1.0)))
            return None

    def _deliver(self, session: requests.Session, job: _Job) -> None:
        settings = self._settings()
        attempt = job.attempt + 1
        record: JSONDict = {
            "id": ids.new_id("whdel"),
            "event_id": job.event_id,
            "event_type": job.event_type,
            "attempt": attempt,
            "redelivery": job.redelivery,
            "url": settings.url,
            "status": None,
            "ok": False,
            "error": None,
            "ts": time.time(),
            "duration_ms": 0,
        }
        started = time.monotonic()
        if settings.url is None:
            record["error"] = "no webhook URL configured"
        else:
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(job.body, settings.secret, int(time.time())),
            }
            try:
                response = session.post(
                    settings.url, data=job.body, headers=headers, timeout=settings.timeout_s
                )
                record["status"] = response.status_code
                record["ok"] = 200 <= response.status_code < 300
            except requests.RequestException as error:
                record["error"] = f"{type(error).__name__}: {error}"
        record["duration_ms"] = round((time.monotonic() - started) * 1000)
        retry = not record["ok"] and settings.url is not None and attempt < settings.max_attempts
        record["next_retry_in_s"] = settings.backoff_s * 2 ** (attempt - 1) if retry else None
        with self._cond:
            self._deliveries.append(record)
            if retry:
                job.attempt = attempt
                job.due = time.monotonic() + settings.backoff_s * 2 ** (attempt - 1)
                self._queue.append(job)
                self._cond.notify_all()
        if record["ok"]:
            self._on_acknowledged(job.event_id)
        else:
            log.info(
                "webhook %s (%s) attempt %d failed: %s",
                job.event_id,
                job.event_type,
                attempt,
                record["error"] or record["status"],
            )
