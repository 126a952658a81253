"""``billing.state.checkout_locks``: a lost answer does not cost the customer their checkout.

Against the in-memory Firestore of tests/support/lost_answers.py (Firestore's semantics for
the calls the lock makes; a write stored whose answer is then lost). Its clock replaces ``time``
in the module: a request that waits for a live holder sleeps on it (no real sleep), so "no
wait" is the list of its sleeps. The lock against the emulator: tests/integration/test_checkout_locks.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists, FailedPrecondition, ServiceUnavailable

from billing.errors import IN_PROGRESS, Conflict
from billing.operations._one_subscription import WAIT_FOR_OTHER_CHECKOUT_S, one_at_a_time
from billing.state import checkout_locks
from billing.state.checkout_locks import CHECKOUT_LOCKS, RELEASED_BY, Busy, CheckoutLocks, Held
from tests.support import lost_answers
from tests.support.lost_answers import Clock, fails

CUSTOMER = "cus_lock1"
PATH = f"{CHECKOUT_LOCKS}/{CUSTOMER}"


class FakeDb(lost_answers.FakeDb):
    """The customer's lock document, read and written as the tests need it."""

    def lock(self) -> dict[str, Any]:
        return self.fields(PATH)

    def lock_version(self) -> int:
        return self.version(PATH)

    def store_lock(self, data: dict[str, Any]) -> int:
        return self.store(PATH, data)

    def end_lease(self) -> int:
        """The lock as it is, its lease over a second ago: its holder slower than the lease."""
        return self.store_lock(
            self.lock() | {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}
        )


@pytest.fixture
def db() -> FakeDb:
    return FakeDb()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return lost_answers.clock_in(monkeypatch, checkout_locks)


def locks_on(db: FakeDb) -> CheckoutLocks:
    return CheckoutLocks(db, 5)  # type: ignore[arg-type]


def ctx_on(db: FakeDb) -> Any:
    settings = SimpleNamespace(firestore_timeout_seconds=5)
    return SimpleNamespace(runtime=SimpleNamespace(settings=settings, firestore=db))


def another_request(db: FakeDb, outcomes: list[Any]) -> Callable[[], None]:
    """Another request for the customer's lock (another token) arriving now, giving up at once
    on a live holder: what it ends in (its Held, or Busy) goes to ``outcomes``."""

    def request() -> None:
        try:
            outcomes.append(locks_on(db).acquire(CUSTOMER, wait_seconds=0))
        except Busy as exc:
            outcomes.append(exc)

    return request


def lapsed(db: FakeDb, **fields: Any) -> int:
    """The lock as a request that died holding it left it: its lease over."""
    now = datetime.now(UTC)
    data = {"owner": "gone", "lease_until": now - timedelta(seconds=1), "expire_at": now}
    return db.store_lock(data | fields)


def assert_held(db: FakeDb, held: Held) -> None:
    """``held`` is the lock as stored: its token, a running lease, its version the update time
    (so the release's compare-and-set on it passes)."""
    assert held.owner == db.lock()["owner"]
    assert held.version == db.lock_version()
    assert db.lock()["lease_until"] > datetime.now(UTC)


def test_a_lost_create_answer_is_our_lock_at_once(
    db: FakeDb, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The create was stored and its answer lost; the client's retry sent it again and met
    AlreadyExists from our own lock. The lock is ours without waiting a moment."""
    caplog.set_level(logging.DEBUG)
    db.after["create"] = fails(AlreadyExists("the retry met our own lock"))
    locks = locks_on(db)
    held = locks.acquire(CUSTOMER, wait_seconds=WAIT_FOR_OTHER_CHECKOUT_S)
    assert_held(db, held)
    assert clock.slept == []
    assert db.calls == ["get", "create", "get"]  # the read that found it ours: no second write
    assert "waiting for the customer's checkout lock" not in caplog.text
    assert held.owner not in caplog.text
    assert locks.release(held, "sub_1") is True
    assert db.lock()["lease_until"] <= datetime.now(UTC)


def test_a_lost_takeover_answer_is_our_lock_at_once(
    db: FakeDb, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The takeover of a lapsed lease was stored and its answer lost; the retry was refused,
    the update time it named being the one our takeover changed. The lock is ours at once."""
    caplog.set_level(logging.DEBUG)
    lapsed(db)
    db.after["update"] = fails(FailedPrecondition("the retry met our own takeover"))
    held = locks_on(db).acquire(CUSTOMER, wait_seconds=WAIT_FOR_OTHER_CHECKOUT_S)
    assert_held(db, held)
    assert held.owner != "gone"
    assert clock.slept == []
    assert db.calls == ["get", "update", "get"]
    assert held.owner not in caplog.text
    assert locks_on(db).release(held) is True


def test_another_request_still_waits_for_a_lock_held_after_a_lost_answer(
    db: FakeDb, clock: Clock
) -> None:
    db.after["create"] = fails(AlreadyExists("the retry met our own lock"))
    held = locks_on(db).acquire(CUSTOMER, wait_seconds=0)
    with pytest.raises(Busy):
        locks_on(db).acquire(CUSTOMER, wait_seconds=WAIT_FOR_OTHER_CHECKOUT_S)
    assert sum(clock.slept) >= WAIT_FOR_OTHER_CHECKOUT_S  # it waited the whole time
    assert db.lock()["owner"] == held.owner


def test_of_two_requests_racing_for_a_free_lock_exactly_one_holds_it(
    db: FakeDb, clock: Clock
) -> None:
    """The other's create lands between our read and our create: ours meets AlreadyExists
    from a lock that is not ours, and waits for it."""
    others: list[Any] = []
    db.before["create"] = another_request(db, others)
    with pytest.raises(Busy):
        locks_on(db).acquire(CUSTOMER, wait_seconds=1)
    [winner] = others
    assert isinstance(winner, Held)
    assert_held(db, winner)
    assert clock.slept  # it waited for the holder


def test_of_two_requests_racing_to_take_over_exactly_one_holds_it(db: FakeDb, clock: Clock) -> None:
    lapsed(db)
    others: list[Any] = []
    # Both read the lapsed lease; the other's takeover lands before ours arrives.
    db.before["update"] = another_request(db, others)
    with pytest.raises(Busy):
        locks_on(db).acquire(CUSTOMER, wait_seconds=1)
    [winner] = others
    assert isinstance(winner, Held)
    assert_held(db, winner)
    assert winner.owner != "gone"


def test_our_token_on_a_lease_that_ended_since_is_taken_again_not_held_as_it_is(
    db: FakeDb, clock: Clock
) -> None:
    """Our token on a lock whose lease no longer runs is not a lock we hold: held as it is,
    another request could take it over while we work. It is taken over (a new token and
    lease, conditional on the update time read), as any lapsed lease."""

    def lost_and_lapsed() -> None:
        db.end_lease()
        raise AlreadyExists("the retry met our own lock")

    db.after["create"] = lost_and_lapsed
    lost: list[str] = []
    db.before["update"] = lambda: lost.append(db.lock()["owner"])  # the token our create wrote
    held = locks_on(db).acquire(CUSTOMER, wait_seconds=0)
    assert db.calls == ["get", "create", "get", "update"]
    assert_held(db, held)
    assert held.owner != lost[0]


def test_a_lost_release_answer_keeps_the_checkout_opened(
    db: FakeDb, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The release was stored and its answer lost; the retry was refused, the update time it
    named being the one our release changed. The release is ours: what the request opened is
    kept, and the answer is not 409."""
    caplog.set_level(logging.DEBUG)
    undone: list[str] = []
    with one_at_a_time(ctx_on(db), CUSTOMER) as opened:
        owner = db.lock()["owner"]
        db.after["update"] = fails(FailedPrecondition("the retry met our own release"))
        opened.record("sub_new", lambda: undone.append("sub_new"))
    assert undone == []
    assert db.calls == ["get", "create", "update", "get"]
    lock = db.lock()
    assert (lock["owner"], lock[RELEASED_BY], lock["opened"]) == (owner, owner, "sub_new")
    assert lock["lease_until"] <= datetime.now(UTC)  # released: the next request takes it
    assert "checkout lock lost" not in caplog.text
    assert owner not in caplog.text


def test_a_lost_release_answer_is_ours_even_when_a_waiting_request_took_the_lock_since(
    db: FakeDb, clock: Clock
) -> None:
    """Our release was stored, and another tab waiting behind us took the free lock before the
    retry's read: our lease ran to our release, so what we opened is kept."""
    others: list[Any] = []

    def lost_then_taken() -> None:
        another_request(db, others)()
        raise FailedPrecondition("the retry met our own release")

    undone: list[str] = []
    with one_at_a_time(ctx_on(db), CUSTOMER) as opened:
        db.after["update"] = lost_then_taken
        opened.record("sub_new", lambda: undone.append("sub_new"))
    [other] = others
    assert isinstance(other, Held)
    assert db.lock()["owner"] == other.owner
    assert undone == []


def test_a_lock_taken_over_by_another_still_makes_release_false_and_ends_what_was_opened(
    db: FakeDb, clock: Clock
) -> None:
    """Slower than its lease: another request took the lock over (after an earlier request
    released it, so the document names a release that is not ours). The release is refused and
    not ours: the request ends what it opened and answers 409 ``in_progress``."""
    lapsed(db, **{RELEASED_BY: "an earlier request's token"})
    others: list[Any] = []
    undone: list[str] = []

    def slower_than_its_lease() -> None:
        with one_at_a_time(ctx_on(db), CUSTOMER) as opened:
            opened.record("sub_new", lambda: undone.append("sub_new"))
            db.end_lease()
            another_request(db, others)()

    with pytest.raises(Conflict) as refused:
        slower_than_its_lease()
    assert refused.value.code == IN_PROGRESS.code
    assert undone == ["sub_new"]
    [other] = others
    assert isinstance(other, Held)
    assert db.lock()["owner"] == other.owner
    assert db.lock()["lease_until"] > datetime.now(UTC)  # the other's lease: untouched


def test_a_release_after_a_takeover_is_false(db: FakeDb, clock: Clock) -> None:
    locks = locks_on(db)
    slow = locks.acquire(CUSTOMER, wait_seconds=0)
    db.end_lease()
    taker = locks.acquire(CUSTOMER, wait_seconds=0)
    assert locks.release(slow, "sub_slow") is False
    assert locks.release(taker, "sub_taker") is True
    assert db.lock()[RELEASED_BY] == taker.owner


def test_a_held_lock_shows_no_token(db: FakeDb, clock: Clock) -> None:
    held = locks_on(db).acquire(CUSTOMER, wait_seconds=0)
    assert held.owner not in repr(held)


def test_a_refused_release_whose_read_back_fails_still_ends_what_was_opened(
    db: FakeDb, clock: Clock
) -> None:
    """Slower than its lease, another request took the lock over; the release is refused and
    the read that would tell a takeover from our own lost release fails. Not knowing, the
    request ends what it opened and answers 409: kept, it could be paid beside what the taker
    opened."""
    others: list[Any] = []
    undone: list[str] = []

    def slower_than_its_lease() -> None:
        with one_at_a_time(ctx_on(db), CUSTOMER) as opened:
            opened.record("sub_new", lambda: undone.append("sub_new"))
            db.end_lease()
            another_request(db, others)()
            db.before["get"] = fails(ServiceUnavailable("Firestore answered 503"))

    with pytest.raises(Conflict) as refused:
        slower_than_its_lease()
    assert refused.value.code == IN_PROGRESS.code
    assert undone == ["sub_new"]
    [other] = others
    assert isinstance(other, Held)
    assert db.lock()["owner"] == other.owner


class Every(dict[str, Callable[[], None]]):
    """Hooks that run on every call of their operation, not once."""

    def pop(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)


def test_a_takeover_refused_every_time_gives_up_after_the_wait_not_spinning(
    db: FakeDb, clock: Clock
) -> None:
    """The lock reads as free (its lease over) and every takeover is refused: the request
    gives up with Busy once its wait is over (each round trip takes time), as it does behind a
    live holder, instead of reading and writing on without end."""
    lapsed(db)
    rounds: list[int] = []

    def refused() -> None:
        rounds.append(1)
        assert len(rounds) < 10_000, "acquire spins past its wait"
        clock.now += 0.05  # the round trip's time
        raise FailedPrecondition("another write moved the update time")

    db.before = Every(update=refused)
    with pytest.raises(Busy):
        locks_on(db).acquire(CUSTOMER, wait_seconds=1)
    assert len(rounds) < 100


def test_a_lost_takeover_answer_past_the_wait_is_still_our_lock(db: FakeDb, clock: Clock) -> None:
    """The wait ran out while our takeover's answer was lost: the read-back comes before giving
    up, so the lock we hold is not left to lapse."""
    lapsed(db)

    def lost_late() -> None:
        clock.now += 5  # past the 1 s wait
        raise FailedPrecondition("the retry met our own takeover")

    db.after["update"] = lost_late
    held = locks_on(db).acquire(CUSTOMER, wait_seconds=1)
    assert held.owner == db.lock()["owner"]
    assert held.version == db.lock_version()
