"""What metering answers Pub/Sub for each outcome, acknowledged or delivered again (issue 18).

The push answer is the whole contract with Pub/Sub: a return acknowledges (never redelivered),
:class:`core.pubsub_push.Redeliver` is answered with its status (409 while another delivery
holds the usage, 503 when Stripe or Firestore failed), so the message comes back and, after the
subscription's maximum attempts, is dead-lettered. The shared push helper (core.pubsub_push,
app.pubsub_push) must leave every one of these answers as metering gave it before; the
integration tests cover the same paths against the emulator and the stand-in, but only as
"raises", not with the status. In-memory fakes here: no Firestore, no Stripe.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import stripe
from google.api_core.exceptions import ServiceUnavailable

from app.pubsub_push import NotAcknowledged, answering
from billing.state.metered_usage import Claim, State
from billing.usage.metering import DUPLICATE_MESSAGE, Metering, Outcome
from core.pubsub_push import Redeliver

USAGE = {"version": 1, "id": "u-1", "subject": "uid-1", "meter": "calls", "value": 3,
         "timestamp": 1_800_000_000}  # fmt: skip


def _push(usage: dict[str, Any] = USAGE, attributes: dict[str, str] | None = None) -> Any:
    data = base64.b64encode(json.dumps(usage).encode()).decode()
    return {"message": {"messageId": "m-1", "data": data, "attributes": attributes or {}}}


@dataclass
class Ledger:
    state: State = State.OWNED
    claim_fails: bool = False
    finish_fails: bool = False
    finished: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def claim(self, usage_id: str, digest: str, now: datetime, details: dict[str, Any]) -> Claim:
        if self.claim_fails:
            raise ServiceUnavailable("down")
        return Claim(self.state, usage_id, version=now)

    def finish(self, claim: Claim, status: str, now: datetime, details: dict[str, Any]) -> None:
        if self.finish_fails:
            raise ServiceUnavailable("down")
        self.finished.append(status)

    def release(self, claim: Claim, now: datetime, error: str) -> None:
        self.released.append(error)


@dataclass
class Customers:
    customer_id: str | None = "cus_1"
    fails: bool = False

    def get(self, uid: str) -> Any:
        if self.fails:
            raise ServiceUnavailable("down")
        return SimpleNamespace(customer_id=self.customer_id)


class MeterEvents:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.sent: list[dict[str, Any]] = []

    def create(self, params: dict[str, Any]) -> None:
        self.sent.append(params)
        if self.error is not None:
            raise self.error


def _metering(
    ledger: Ledger, customers: Customers, stripe_error: Exception | None = None
) -> tuple[Metering, MeterEvents]:
    events = MeterEvents(stripe_error)
    client = SimpleNamespace(v1=SimpleNamespace(billing=SimpleNamespace(meter_events=events)))
    return Metering(ledger, customers, client, clock=lambda: datetime.now(UTC)), events  # type: ignore[arg-type]


ACKNOWLEDGED = [
    ("recorded", Ledger(), Customers(), None, _push(), Outcome.RECORDED),
    ("already done", Ledger(State.DONE), Customers(), None, _push(), Outcome.ALREADY_DONE),
    ("id reused", Ledger(State.CONFLICT), Customers(), None, _push(), Outcome.REFUSED),
    ("not pubsub", Ledger(), Customers(), None, {"nothing": 1}, Outcome.REFUSED),
    ("not the contract", Ledger(), Customers(), None, _push({"id": "u-1"}), Outcome.REFUSED),
    ("attribute disagrees", Ledger(), Customers(), None, _push(attributes={"meter": "other"}),
     Outcome.REFUSED),
    ("no customer", Ledger(), Customers(None), None, _push(), Outcome.HELD),
    ("stripe has it already", Ledger(), Customers(),
     stripe.InvalidRequestError(f"{DUPLICATE_MESSAGE} u-1", None), _push(), Outcome.RECORDED),
    ("stripe refuses", Ledger(), Customers(),
     stripe.InvalidRequestError("No active meter found", "event_name"), _push(), Outcome.REFUSED),
    ("recorded, mark failed", Ledger(finish_fails=True), Customers(), None, _push(),
     Outcome.RECORDED_UNMARKED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("ledger", "customers", "stripe_error", "event", "outcome"),
    [case[1:] for case in ACKNOWLEDGED],
    ids=[case[0] for case in ACKNOWLEDGED],
)
def test_what_is_acknowledged(
    ledger: Ledger,
    customers: Customers,
    stripe_error: Exception | None,
    event: Any,
    outcome: Outcome,
) -> None:
    metering, _ = _metering(ledger, customers, stripe_error)
    assert metering.handle(event) is outcome


REDELIVERED = [
    ("claim: firestore down", Ledger(claim_fails=True), Customers(), None, 503, False),
    ("another delivery holds it", Ledger(State.IN_FLIGHT), Customers(), None, 409, False),
    ("customer lookup: firestore down", Ledger(), Customers(fails=True), None, 503, True),
    ("stripe unreachable", Ledger(), Customers(), stripe.APIConnectionError("reset"), 503, True),
    ("stripe 500", Ledger(), Customers(), stripe.APIError("boom"), 503, True),
    ("held, mark failed", Ledger(finish_fails=True), Customers(None), None, 503, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("ledger", "customers", "stripe_error", "status", "released"),
    [case[1:] for case in REDELIVERED],
    ids=[case[0] for case in REDELIVERED],
)
def test_what_is_delivered_again_and_with_which_status(
    ledger: Ledger,
    customers: Customers,
    stripe_error: Exception | None,
    status: int,
    released: bool,
) -> None:
    metering, _ = _metering(ledger, customers, stripe_error)
    with pytest.raises(Redeliver) as raised:
        metering.handle(_push())
    assert raised.value.status == status
    # A failure after our claim gives the lease up, so the redelivery need not wait for it.
    assert bool(ledger.released) is released
    # And the push answers that status (what Pub/Sub sees), through the registry's wrapper.
    push = answering(lambda cloud_event: metering.handle(cloud_event))
    with pytest.raises(NotAcknowledged) as answered:
        push(_push())
    assert answered.value.code == status
