"""checkout_locks/{customer}: one request at a time opens something payable, on the emulator."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from billing.state.checkout_locks import CHECKOUT_LOCKS, Busy, CheckoutLocks

pytestmark = pytest.mark.integration


def _customer() -> str:
    return f"cus_lock{uuid.uuid4().hex[:12]}"


def test_a_held_lock_makes_the_next_request_wait_then_busy(db: firestore.Client) -> None:
    locks, customer = CheckoutLocks(db, 10), _customer()
    held = locks.acquire(customer, wait_seconds=0)
    with pytest.raises(Busy):
        locks.acquire(customer, wait_seconds=0.5)
    assert locks.release(held, "sub_1") is True
    again = locks.acquire(customer, wait_seconds=0)  # released: free at once
    assert again.owner != held.owner
    stored = db.collection(CHECKOUT_LOCKS).document(customer).get().to_dict()
    assert stored is not None
    assert stored["owner"] == again.owner
    assert stored["expire_at"] > datetime.now(UTC) + timedelta(days=29)  # for the TTL policy


def test_an_expired_lease_is_taken_over_and_its_holder_learns_at_release(
    db: firestore.Client,
) -> None:
    locks, customer = CheckoutLocks(db, 10), _customer()
    slow = locks.acquire(customer, wait_seconds=0)
    ref = db.collection(CHECKOUT_LOCKS).document(customer)
    ref.update({"lease_until": datetime.now(UTC) - timedelta(seconds=1)})  # the lease ran out
    taker = locks.acquire(customer, wait_seconds=0)
    assert locks.release(slow, "sub_slow") is False  # it must undo what it opened
    assert (ref.get().to_dict() or {})["owner"] == taker.owner
    assert locks.release(taker, "sub_taker") is True


def test_two_requests_reading_a_free_lock_at_once_cannot_both_take_it(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both read the document before either writes; only the write conditional on what it read
    # may land, so the second sees a live lease and waits (here: gives up at once).
    from billing.state import checkout_locks

    locks, customer = CheckoutLocks(db, 10), _customer()
    ref = db.collection(CHECKOUT_LOCKS).document(customer)
    ref.set({"owner": "gone", "lease_until": datetime.now(UTC) - timedelta(seconds=1)})
    from core.firestore import get_document as real_get  # the locks' read (one GetDocument)

    taken: list[object] = []
    interleaved = threading.Event()

    def get_then_let_the_other_take_it(read: Any, **kw: Any) -> Any:
        snapshot = real_get(read, **kw)
        if read.id == customer and not interleaved.is_set():
            interleaved.set()
            taken.append(CheckoutLocks(db, 10).acquire(customer, wait_seconds=0))
        return snapshot

    monkeypatch.setattr(checkout_locks, "get_document", get_then_let_the_other_take_it)
    with pytest.raises(Busy):
        locks.acquire(customer, wait_seconds=0)
    assert len(taken) == 1
