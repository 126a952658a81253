"""The sync's guard against races, in-process against the Firestore emulator: a slower, older
read never overwrites a newer write."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from billing.config import BillingSettings
from billing.context import Context
from billing.entitlements.sync import Entitlement, sync
from billing.runtime import Runtime
from devstack.stack import StackInfo
from tests.support.firestore_rpcs import counting_client


def _state(uid: str, status: str) -> Entitlement:
    active = status == "active"
    return Entitlement(
        uid, "cus_race", active, status, "sub_race", "price_basic_monthly", "prod_basic",
        2_000_000_000, False, None, None, 2_000_000_000 if active else None,
        ["reports"] if active else [],
    )  # fmt: skip


# Only Firestore is real here: a key the Stripe client is never built with.
NO_STRIPE = {"stripe_secret_key": "sk_test_" + "unused"}


@pytest.fixture
def ctx(stack: StackInfo, db: firestore.Client) -> Context:
    """Only Firestore is real here: each test supplies what Stripe says through ``reader``."""
    settings = BillingSettings.load({}, google_cloud_project=stack.project_id, **NO_STRIPE)
    return Context(runtime=Runtime(settings, firestore_client=db), request_id="sync-test")


def test_an_older_read_finishing_last_does_not_overwrite_a_newer_write(
    ctx: Context, db: firestore.Client
) -> None:
    uid = f"race-{uuid.uuid4().hex[:8]}"
    old_read_taken = threading.Event()
    new_write_done = threading.Event()

    def slow_old_read(_: Context, uid: str, __: str) -> Entitlement:
        old_read_taken.set()
        assert new_write_done.wait(10)  # the newer sync reads and writes meanwhile
        return _state(uid, "active")  # what Stripe said before the cancellation

    results = {}

    def old_sync() -> None:
        results["old"] = sync(ctx, uid, "cus_race", reader=slow_old_read)

    thread = threading.Thread(target=old_sync)
    thread.start()
    assert old_read_taken.wait(10)
    results["new"] = sync(ctx, uid, "cus_race", reader=lambda _, u, __: _state(u, "canceled"))
    new_write_done.set()
    thread.join(10)
    assert results["new"].written is True
    assert results["old"].written is False
    stored = db.collection("entitlements").document(uid).get().to_dict()
    assert stored is not None
    assert (stored["status"], stored["active"]) == ("canceled", False)


def test_syncs_in_sequence_each_write_and_the_last_one_wins(
    ctx: Context, db: firestore.Client
) -> None:
    uid = f"seq-{uuid.uuid4().hex[:8]}"
    first = sync(ctx, uid, "cus_seq", reader=lambda _, u, __: _state(u, "active"))
    second = sync(
        ctx, uid, "cus_seq", reader=lambda _, u, __: replace(_state(u, "active"), features=[])
    )
    assert first.written
    assert second.written
    stored = db.collection("entitlements").document(uid).get().to_dict()
    assert stored is not None
    assert stored["features"] == []
    assert stored["version"] > 0


class CommitsAfter:
    """The real Firestore client, except that the first batch commit first lets ``meanwhile``
    run: another writer landing between this writer's read and its write."""

    def __init__(self, real: firestore.Client, meanwhile: Callable[[], object]) -> None:
        self._real = real
        self._meanwhile: Callable[[], object] | None = meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def batch(self) -> Any:
        batch = self._real.batch()
        meanwhile, self._meanwhile = self._meanwhile, None
        if meanwhile is not None:
            commit = batch.commit

            def commit_after(*args: Any, **kwargs: Any) -> Any:
                meanwhile()
                return commit(*args, **kwargs)

            batch.commit = commit_after  # type: ignore[method-assign]
        return batch


def test_a_newer_write_landing_between_check_and_commit_wins(
    ctx: Context, db: firestore.Client, stack: StackInfo
) -> None:
    uid = f"cas-{uuid.uuid4().hex[:8]}"

    def newer_sync() -> None:
        sync(ctx, uid, "cus_cas", reader=lambda _, u, __: _state(u, "canceled"))

    settings = BillingSettings.load({}, google_cloud_project=stack.project_id, **NO_STRIPE)
    interleaved = Context(
        runtime=Runtime(settings, firestore_client=CommitsAfter(db, newer_sync)),  # type: ignore[arg-type]
        request_id="older",
    )
    older = sync(interleaved, uid, "cus_cas", reader=lambda _, u, __: _state(u, "active"))
    assert older.written is False  # its check passed, but the newer write got there first
    stored = db.collection("entitlements").document(uid).get().to_dict()
    assert stored is not None
    assert (stored["status"], stored["active"]) == ("canceled", False)


def test_a_delivery_that_lost_its_lease_cannot_write_over_the_one_that_took_over(
    ctx: Context, db: firestore.Client
) -> None:
    from billing.entitlements.events import EVENTS, Inbox, InProgress

    event = {"id": f"evt_lease{uuid.uuid4().hex[:12]}", "type": "invoice.paid"}
    slow, quick = Inbox(ctx), Inbox(ctx)
    first = slow.claim(event, "u1")
    assert first is not None
    # The slow delivery stalls past its lease; the next one takes the event over.
    db.collection(EVENTS).document(event["id"]).update(
        {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}
    )
    second = quick.claim(event, "u1")
    assert second is not None
    assert second.data["owner"] != first.data["owner"]
    with pytest.raises(InProgress):
        slow.update(first, {"synced": True, "notification": {"from": "the slow one"}})
    quick.update(second, {"synced": True, "notification": None})
    record = db.collection(EVENTS).document(event["id"]).get().to_dict()
    assert record is not None
    assert (record["owner"], record["notification"]) == (second.data["owner"], None)


def _counted(stack: StackInfo) -> tuple[Context, list[str]]:
    client, calls = counting_client(stack.project_id, stack.firestore_emulator_host)
    settings = BillingSettings.load({}, google_cloud_project=stack.project_id, **NO_STRIPE)
    return Context(runtime=Runtime(settings, firestore_client=client), request_id="rpcs"), calls


def test_a_sync_alone_takes_its_ticket_and_writes_in_two_round_trips(
    stack: StackInfo, db: firestore.Client
) -> None:
    counted, calls = _counted(stack)
    uid = f"rpc-{uuid.uuid4().hex[:8]}"
    result = sync(counted, uid, "cus_rpc", reader=lambda _, u, __: _state(u, "active"))
    assert result.written
    # Take the ticket; write the ticket and the document at once. Nothing is read: the
    # ticket document's update time is still the one our take left.
    assert calls == ["commit", "commit"]
    stored = db.collection("entitlements").document(uid).get().to_dict()
    assert stored is not None
    assert stored["version"] == result.version
    assert stored["status"] == "active"


def test_a_ticket_taken_meanwhile_is_read_and_the_write_still_lands_in_order(
    stack: StackInfo, db: firestore.Client
) -> None:
    # Another sync takes a ticket while this one reads Stripe: the write without a read
    # fails its precondition, the ticket document is read, and this sync (older, nothing
    # applied yet) writes; the newer one then writes over it when it finishes.
    counted, calls = _counted(stack)
    uid = f"rpc-{uuid.uuid4().hex[:8]}"
    tickets = db.collection("entitlement_syncs").document(uid)

    def read_while_another_takes_a_ticket(_: Context, u: str, __: str) -> Entitlement:
        tickets.set({"requested_at": firestore.SERVER_TIMESTAMP}, merge=True)
        return _state(u, "active")

    older = sync(counted, uid, "cus_rpc", reader=read_while_another_takes_a_ticket)
    assert older.written
    assert calls == ["commit", "commit", "get_document", "commit"]
    stored = db.collection("entitlements").document(uid).get().to_dict()
    assert stored is not None
    assert stored["version"] == older.version
    ticket = tickets.get().to_dict()
    assert ticket is not None
    assert ticket["applied_ticket"] == older.version


def test_a_ticket_taken_with_the_events_claim_orders_the_sync_as_its_own_take_would(
    ctx: Context, db: firestore.Client
) -> None:
    # The webhook commits the sync's ticket with the event's claim (Inbox.claim), and the
    # sync then takes none of its own. That ticket must order the sync exactly as one the
    # sync took: a newer sync that writes while this one reads Stripe wins, and this older
    # read is dropped. (A sync that took a fresh ticket after its read would write over it.)
    from billing.entitlements.events import Inbox

    uid = f"claimed-{uuid.uuid4().hex[:8]}"
    claim = Inbox(ctx).claim({"id": f"evt_tkt{uuid.uuid4().hex[:12]}", "type": "x"}, uid)
    assert claim is not None
    assert claim.ticket is not None
    tickets = db.collection("entitlement_syncs").document(uid).get()
    assert tickets.update_time == claim.ticket  # taken in the claim's commit

    def read_while_a_newer_sync_writes(_: Context, u: str, __: str) -> Entitlement:
        newer = sync(ctx, u, "cus_tkt", reader=lambda _, v, __: _state(v, "canceled"))
        assert newer.written
        return _state(u, "active")  # what Stripe said before the cancellation

    older = sync(ctx, uid, "cus_tkt", reader=read_while_a_newer_sync_writes, taken=claim.ticket)
    assert older.written is False
    stored = db.collection("entitlements").document(uid).get().to_dict()
    assert stored is not None
    assert (stored["status"], stored["active"]) == ("canceled", False)


def test_a_refused_claim_takes_no_ticket(ctx: Context, db: firestore.Client) -> None:
    # The claim and the ticket are one commit, refused as a whole: a duplicate delivery
    # leaves the user's ticket document as it was.
    from billing.entitlements.events import Inbox

    uid = f"dup-{uuid.uuid4().hex[:8]}"
    event = {"id": f"evt_dup{uuid.uuid4().hex[:12]}", "type": "x"}
    first = Inbox(ctx).claim(event, uid)
    assert first is not None
    inbox = Inbox(ctx)
    inbox.update(first, {"status": "done"})
    assert inbox.claim(event, uid) is None  # done: a duplicate
    tickets = db.collection("entitlement_syncs").document(uid).get()
    assert tickets.update_time == first.ticket


class AnswerLost:
    """The real Firestore client, except that the first batch commit is stored and its answer
    lost: the client's retry sends the same writes again and gets the emulator's answer."""

    def __init__(self, real: firestore.Client) -> None:
        self._real = real
        self._lost = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def batch(self) -> Any:
        if not self._lost:
            return self._real.batch()
        self._lost = False
        return _SentTwice(self._real)


class _SentTwice:
    def __init__(self, real: firestore.Client) -> None:
        self._real = real
        self._writes: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = []

    def create(self, ref: Any, data: dict[str, Any]) -> None:
        self._writes.append(("create", ref, data, {}))

    def set(self, ref: Any, data: dict[str, Any], **kw: Any) -> None:
        self._writes.append(("set", ref, data, kw))

    def commit(self, **kw: Any) -> Any:
        for _ in range(2):  # the commit, stored (its answer lost); the retry's resend
            batch = self._real.batch()
            for kind, ref, data, options in self._writes:
                getattr(batch, kind)(ref, data, **options)
            answer = batch.commit(**kw)
        return answer


def test_a_claim_whose_answer_was_lost_is_ours_and_another_delivery_still_waits(
    stack: StackInfo, ctx: Context, db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim's commit is stored, its answer lost, and the retry meets AlreadyExists from
    # our own claim: the read-back finds our token, so the claim is ours at once, at the update
    # time GetDocument read, which the emulator then accepts as our writes' precondition.
    from billing.entitlements import events

    uid = f"lost-{uuid.uuid4().hex[:8]}"
    event = {"id": f"evt_lost{uuid.uuid4().hex[:12]}", "type": "invoice.paid"}
    settings = BillingSettings.load({}, google_cloud_project=stack.project_id, **NO_STRIPE)
    lost = Context(
        runtime=Runtime(settings, firestore_client=AnswerLost(db)),  # type: ignore[arg-type]
        request_id="lost-answer",
    )
    inbox = events.Inbox(lost)
    claim = inbox.claim(event, uid)
    assert claim is not None
    stored = db.collection(events.EVENTS).document(event["id"]).get()
    assert (claim.version, claim.data["owner"]) == (stored.update_time, stored.get("owner"))
    assert claim.ticket is None  # its time is not known: the sync takes its own
    # Another delivery (another token) finds the claim held: it waits, then answers 503.
    monkeypatch.setattr(events, "WAIT_FOR_OWNER_S", 0.5)
    with pytest.raises(events.InProgress):
        events.Inbox(ctx).claim(event, uid)
    synced = sync(lost, uid, "cus_lost", reader=lambda _, u, __: _state(u, "active"))
    assert synced.written
    inbox.update(claim, {"synced": True, "notification": None, "status": "done"})
    record = db.collection(events.EVENTS).document(event["id"]).get().to_dict()
    assert record is not None
    assert (record["status"], record["owner"]) == ("done", claim.data["owner"])


def test_a_later_write_whose_answer_was_lost_is_ours_on_the_emulator(
    ctx: Context, db: firestore.Client
) -> None:
    # A write after the claim (the outbox record, then the release) is stored, its answer
    # lost: the retry's resend is refused, the update time it names being the one the stored
    # write changed. The read-back finds our token and what the write wrote, as the emulator
    # returns it (a nested message; a timestamp), so the write is ours at the time read.
    from billing.entitlements import events

    uid = f"later-{uuid.uuid4().hex[:8]}"
    event = {"id": f"evt_later{uuid.uuid4().hex[:12]}", "type": "invoice.paid"}
    inbox = events.Inbox(ctx)
    claim = inbox.claim(event, uid)
    assert claim is not None
    message = {
        "notification_id": f"{event['id']}:payment_succeeded",
        "occurred_at": 1765000000,
        "livemode": False,
        "email": None,
        "invoice": {"amount_paid": 1200, "currency": "eur", "lines": ["Basic", "Tax"]},
    }
    for changes in ({"synced": True, "notification": message}, {"lease_until": datetime.now(UTC)}):
        stored = claim.ref.update(
            changes, option=db.write_option(last_update_time=claim.version)
        )  # stored; its answer lost
        claim = inbox.update(claim, changes)  # the retry's resend, refused
        assert claim.version == stored.update_time
        assert inbox.held == claim
