"""The sync's guard against races, in-process against the Firestore emulator: a slower, older
read never overwrites a newer write."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

import pytest
from google.cloud import firestore

from billing.config import Settings
from billing.context import Context
from billing.entitlements import Entitlement, sync
from billing.runtime import Runtime
from devstack.stack import StackInfo


def _state(uid: str, status: str) -> Entitlement:
    active = status == "active"
    return Entitlement(
        uid, "cus_race", active, status, "sub_race", "price_basic_monthly", "prod_basic",
        2_000_000_000, False, None, None, 2_000_000_000 if active else None,
        ["reports"] if active else [],
    )  # fmt: skip


@pytest.fixture
def ctx(stack: StackInfo, db: firestore.Client) -> Context:
    """Only Firestore is real here: each test supplies what Stripe says through ``reader``."""
    settings = Settings(google_cloud_project=stack.project_id)
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
