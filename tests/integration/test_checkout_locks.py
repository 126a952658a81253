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


class _SentTwice:
    """A lock document whose every create and update is stored and its answer lost: the
    client's retry sends it again and gets the emulator's answer to the resend (AlreadyExists,
    or a failed precondition on the update time the first one changed). Reads are the real
    document's (``get_document`` reads through the reference's client)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.sent: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create(self, data: Any, **kw: Any) -> Any:
        self.sent.append("create")
        self._real.create(data, **kw)
        return self._real.create(data, **kw)

    def update(self, data: Any, **kw: Any) -> Any:
        self.sent.append("update")
        self._real.update(data, **kw)
        return self._real.update(data, **kw)


class _AnswersLost:
    def __init__(self, real: firestore.Client, customer: str) -> None:
        self._real = real
        self.ref = _SentTwice(real.collection(CHECKOUT_LOCKS).document(customer))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def collection(self, name: str) -> Any:
        assert name == CHECKOUT_LOCKS
        return type("Locks", (), {"document": lambda _, key: self.ref})()


def test_lost_answers_of_our_own_lock_writes_are_recognised_on_the_emulator(
    db: firestore.Client,
) -> None:
    # Each write is stored and its answer lost; the retry's resend meets our own write. The
    # lock is ours at once (wait_seconds=0: a wait would be Busy) at the update time
    # GetDocument read, which the emulator accepts as our release's precondition; the stored
    # release is recognised (True); another request meanwhile still finds the lock held.
    customer = _customer()
    lost = _AnswersLost(db, customer)
    locks = CheckoutLocks(lost, 10)  # type: ignore[arg-type]
    ref = db.collection(CHECKOUT_LOCKS).document(customer)
    held = locks.acquire(customer, wait_seconds=0)
    stored = ref.get()
    assert (held.owner, held.version) == (stored.get("owner"), stored.update_time)
    with pytest.raises(Busy):
        CheckoutLocks(db, 10).acquire(customer, wait_seconds=0)
    assert locks.release(held, "sub_1") is True
    released = ref.get().to_dict() or {}
    assert (released["released_by"], released["opened"]) == (held.owner, "sub_1")
    assert released["lease_until"] <= datetime.now(UTC)
    # Released: the next take is a takeover, its answer lost too.
    again = locks.acquire(customer, wait_seconds=0)
    stored = ref.get()
    assert (again.owner, again.version) == (stored.get("owner"), stored.update_time)
    assert again.owner != held.owner
    assert lost.ref.sent == ["create", "update", "update"]
    assert locks.release(again) is True
