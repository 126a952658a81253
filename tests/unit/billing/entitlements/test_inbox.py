"""The webhook's inbox (``events.Inbox``): a claim whose answer was lost is still ours.

Against the in-memory Firestore of tests/support/lost_answers.py (Firestore's semantics for
the calls the inbox makes; a write stored whose answer is then lost). Its clock replaces
``time`` in the inbox: a delivery that waits for a live holder sleeps on it (no real sleep), so
"no wait" is the list of its sleeps.
The inbox against the real emulator: tests/integration/test_entitlement_sync.py and
tests/integration/test_webhooks.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists, FailedPrecondition

from billing.entitlements import events, id_token, notifications, sync
from tests.support import lost_answers
from tests.support.lost_answers import Clock, fails

EVENT = {
    "id": "evt_lost1",
    "type": "invoice.paid",
    "data": {"object": {"id": "in_1", "customer": "cus_lost1"}},
}
PATH = f"{events.EVENTS}/{EVENT['id']}"


class FakeDb(lost_answers.FakeDb):
    """The event's inbox document, read as the tests need it."""

    def event(self) -> dict[str, Any]:
        return self.fields(PATH)


@pytest.fixture
def db() -> FakeDb:
    return FakeDb()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return lost_answers.clock_in(monkeypatch, events)


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """handle_event's steps after the claim, recorded: the sync (with the ticket it was given),
    the ID-token publish, and no notification to tell."""
    tickets: list[Any] = []

    def fake_sync(ctx: Any, uid: str, customer_id: str, taken: Any = None) -> Any:
        tickets.append(taken)
        return SimpleNamespace(entitlement=SimpleNamespace(), written=False, version=0)

    monkeypatch.setattr(sync, "sync", fake_sync)
    monkeypatch.setattr(id_token, "publish_for", lambda *_: None)
    monkeypatch.setattr(notifications, "build", lambda *_: None)
    return tickets


def ctx_on(db: FakeDb) -> Any:
    settings = SimpleNamespace(firestore_timeout_seconds=5)
    customers = SimpleNamespace(uid_for=lambda customer_id: "u1")
    return SimpleNamespace(
        runtime=SimpleNamespace(settings=settings, firestore=db, customers=customers)
    )


def inbox_on(db: FakeDb) -> events.Inbox:
    return events.Inbox(ctx_on(db))


def another_delivery(db: FakeDb, outcomes: list[Any]) -> Callable[[], None]:
    """A redelivery of the event (another attempt, another token) arriving now: what its
    claim ends in (a Claim, None for done, or the InProgress it raised) goes to ``outcomes``."""

    def deliver() -> None:
        try:
            outcomes.append(inbox_on(db).claim(EVENT, "u1"))
        except events.InProgress as exc:
            outcomes.append(exc)

    return deliver


def abandoned(db: FakeDb, **fields: Any) -> int:
    """The event as a delivery that died left it: processing, its lease over."""
    now = datetime.now(UTC)
    data = {
        "type": EVENT["type"], "uid": "u1", "status": "processing", "owner": "crashed",
        "lease_until": now - timedelta(seconds=1), "synced": False, "notification": None,
        "published": False, "received_at": now - timedelta(minutes=5),
        "expire_at": now + events.KEEP,
    }  # fmt: skip
    return db.store(PATH, data | fields)


def test_a_lost_claim_answer_is_our_claim_and_the_event_is_processed_at_once(
    db: FakeDb, clock: Clock, syncs: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The claim's commit was stored and its answer lost; the client's retry sent it again and
    met AlreadyExists from our own claim. The delivery processes the event: no InProgress, no
    wait. Another delivery reading the event meanwhile still waits and answers InProgress."""
    caplog.set_level(logging.DEBUG)
    db.after["commit"] = fails(AlreadyExists("the retry met our own claim"))
    others: list[Any] = []
    db.before["get"] = another_delivery(db, others)
    assert events.handle_event(ctx_on(db), EVENT) == "processed"
    [other] = others
    assert isinstance(other, events.InProgress)  # it waited for the holder: us
    assert sum(clock.slept) >= events.WAIT_FOR_OWNER_S
    record = db.event()
    assert (record["status"], record["synced"]) == ("done", True)
    # Ours: the claim (stored, its answer lost), the one read that found it ours, the mark.
    # The other's: its claim, refused, and a read per wait and one more. No takeover.
    assert db.calls[:2] == ["commit", "get"]
    assert db.calls.count("get") == 1 + len(clock.slept) + 1
    assert db.calls.count("update") == 1
    assert db.calls[-1] == "update"
    # The sync was given no ticket: it takes its own (the lost one's time is not known).
    assert syncs == [None]
    assert record["owner"] not in caplog.text


def test_a_lost_create_answer_gives_the_claim_as_read(db: FakeDb, clock: Clock) -> None:
    """The claim: the document read, its update time the version every later write compares
    against, and no ticket."""
    db.after["commit"] = fails(AlreadyExists("the retry met our own claim"))
    inbox = inbox_on(db)
    claim = inbox.claim(EVENT, "u1")
    assert claim is not None
    assert (claim.version, claim.ticket) == (db.docs[PATH][1], None)
    assert claim.data == db.event()
    assert clock.slept == []
    inbox.update(claim, {"synced": True})  # the compare-and-set on that version passes
    assert db.event()["synced"] is True


def test_a_lost_takeover_answer_is_our_claim_and_the_event_is_processed_at_once(
    db: FakeDb, clock: Clock, syncs: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The takeover was stored and its answer lost; the client's retry sent it again and was
    refused, the update time it named being the one our takeover changed. The delivery
    processes the event without waiting; another delivery meanwhile still answers InProgress."""
    caplog.set_level(logging.DEBUG)
    abandoned(db, synced=True, notification=None)  # the dead delivery synced, not marked done
    others: list[Any] = []

    def lost() -> None:
        db.before["get"] = another_delivery(db, others)
        raise FailedPrecondition("the retry met our own takeover's update time")

    db.after["update"] = lost
    assert events.handle_event(ctx_on(db), EVENT) == "processed"
    [other] = others
    assert isinstance(other, events.InProgress)
    record = db.event()
    assert record["owner"] != "crashed"  # ours, written by the takeover
    assert record["status"] == "done"
    # Ours: the claim (refused), the read, the takeover, the read that found it ours; then
    # the other delivery's claim and reads; our only write after is marking it done.
    assert db.calls[:4] == ["commit", "get", "update", "get"]
    assert db.calls.count("update") == 2  # the takeover and the mark: no second takeover
    assert syncs == []  # what the dead delivery recorded is kept: synced, not redone
    assert "took over an abandoned delivery" in caplog.text
    assert record["owner"] not in caplog.text


def test_of_two_deliveries_racing_for_a_new_event_exactly_one_holds_it(
    db: FakeDb, clock: Clock
) -> None:
    others: list[Any] = []
    # The other delivery's claim lands between ours being sent and its arrival.
    db.before["commit"] = another_delivery(db, others)
    with pytest.raises(events.InProgress):
        inbox_on(db).claim(EVENT, "u1")
    [winner] = others
    assert isinstance(winner, events.Claim)
    assert db.event()["owner"] == winner.data["owner"]
    assert db.calls.count("update") == 0


def test_of_two_deliveries_racing_to_take_over_exactly_one_holds_it(
    db: FakeDb, clock: Clock
) -> None:
    abandoned(db)
    others: list[Any] = []
    # Both read the abandoned claim; the other's takeover lands before ours arrives.
    db.before["update"] = another_delivery(db, others)
    with pytest.raises(events.InProgress):
        inbox_on(db).claim(EVENT, "u1")
    [winner] = others
    assert isinstance(winner, events.Claim)
    assert db.event()["owner"] == winner.data["owner"] != "crashed"


def test_a_done_event_stays_done_even_with_our_token(db: FakeDb, clock: Clock) -> None:
    """Whatever wrote it, a done event is a duplicate: our token on it does not make it ours."""

    def lost_and_done() -> None:
        fields, _ = db.docs[PATH]
        db.store(PATH, fields | {"status": "done", "outcome": "processed"})
        raise AlreadyExists("the retry met our own claim")

    db.after["commit"] = lost_and_done
    assert inbox_on(db).claim(EVENT, "u1") is None
    assert db.calls == ["commit", "get"]


def test_a_claim_of_ours_released_since_is_taken_over_not_held_as_it_is(
    db: FakeDb, clock: Clock
) -> None:
    """Our token on a claim whose lease has ended is not a claim we hold: held as it is, with
    no lease running, another delivery could take it over while we work. It is taken over (a
    new token and lease, conditional on the update time read), as any lapsed claim."""

    def lost_and_released() -> None:
        fields, _ = db.docs[PATH]
        db.store(PATH, fields | {"lease_until": datetime.now(UTC) - timedelta(seconds=1)})
        raise AlreadyExists("the retry met our own claim")

    db.after["commit"] = lost_and_released
    lost_token: list[str] = []
    db.before["get"] = lambda: lost_token.append(db.event()["owner"])
    claim = inbox_on(db).claim(EVENT, "u1")
    assert claim is not None
    assert db.calls == ["commit", "get", "update"]
    assert claim.version == db.docs[PATH][1]
    assert claim.data["owner"] == db.event()["owner"] != lost_token[0]
    assert claim.data["lease_until"] > datetime.now(UTC)


def test_a_claim_of_ours_taken_over_since_is_not_ours(db: FakeDb, clock: Clock) -> None:
    def lost_and_taken_over() -> None:
        fields, _ = db.docs[PATH]
        db.store(PATH, fields | {"owner": "another delivery's token"})
        raise AlreadyExists("the retry met our own claim")

    db.after["commit"] = lost_and_taken_over
    with pytest.raises(events.InProgress):
        inbox_on(db).claim(EVENT, "u1")
    assert "update" not in db.calls


@pytest.fixture
def tells(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """handle_event's steps after the claim with a notification to tell: the sync and the
    ID-token publish faked, each publish of the message kept."""
    published: list[Any] = []
    monkeypatch.setattr(
        sync,
        "sync",
        lambda *_, **__: SimpleNamespace(entitlement=SimpleNamespace(), written=False, version=0),
    )
    monkeypatch.setattr(id_token, "publish_for", lambda *_: None)
    monkeypatch.setattr(notifications, "build", lambda *_: {"notification_id": "n1"})
    monkeypatch.setattr(notifications, "publish", lambda ctx, message: published.append(message))
    return published


def test_a_lost_answer_of_a_later_write_is_ours_and_the_event_is_finished_at_once(
    db: FakeDb, clock: Clock, tells: list[Any]
) -> None:
    """The outbox record (synced, the notification) was stored and its answer lost; the
    client's retry was refused, the update time it named being the one this write changed.
    Nobody took over (our token is still there): the delivery publishes and finishes instead of
    answering 503 and leaving the event to wait out its own lease."""
    db.after["update"] = fails(FailedPrecondition("the retry met our own write"))
    assert events.handle_event(ctx_on(db), EVENT) == "processed"
    record = db.event()
    assert (record["status"], record["synced"], record["published"]) == ("done", True, True)
    assert tells == [{"notification_id": "n1"}]  # published once
    assert db.calls == ["commit", "update", "get", "update"]


def test_a_later_write_refused_after_a_takeover_is_in_progress_and_writes_nothing(
    db: FakeDb, clock: Clock, tells: list[Any]
) -> None:
    """Our lease lapsed and another delivery took the claim over before our record: refused,
    and the read finds the other's token. We answer InProgress and write nothing over it."""

    def taken_over() -> None:
        fields, _ = db.docs[PATH]
        db.store(PATH, fields | {"owner": "the taker's token"})

    db.before["update"] = taken_over
    with pytest.raises(events.InProgress):
        events.handle_event(ctx_on(db), EVENT)
    record = db.event()
    assert record["owner"] == "the taker's token"
    assert (record["synced"], record["published"], record["status"]) == (
        False,
        False,
        "processing",
    )
    assert tells == []


def test_a_refused_write_that_is_not_in_the_claim_is_not_taken_for_ours(
    db: FakeDb, clock: Clock, tells: list[Any]
) -> None:
    """Our token is still there but what the refused write wrote is not (a write of ours the
    delivery never learned was stored moved the update time, not this one): not ours."""
    inbox = inbox_on(db)
    claim = inbox.claim(EVENT, "u1")
    assert claim is not None
    fields, _ = db.docs[PATH]
    db.store(PATH, fields | {"synced": True})  # ours, its answer never seen
    with pytest.raises(events.InProgress):
        inbox.update(claim, {"notification": {"notification_id": "n1"}})
    assert db.event()["notification"] is None
    assert inbox.held is None


def test_a_claim_shows_no_token(db: FakeDb, clock: Clock) -> None:
    claim = inbox_on(db).claim(EVENT, "u1")
    assert claim is not None
    assert claim.data["owner"] not in repr(claim)
