"""core.leased_claims: the claim-with-a-lease rules metering and the mailer share.

Against the in-memory Firestore of tests/support/lost_answers.py (Firestore's semantics for
the calls the module makes; a write stored whose answer is then lost, or a failure that reached
the caller). Both callers' rules against the real emulator are tests/integration/test_email.py
and tests/integration/test_metering.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core.exceptions import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    ServiceUnavailable,
)

from core import call_counts
from core.leased_claims import OWN_FIELDS, OWNER, LeasedClaims, Outcome, Statuses
from tests.support import lost_answers
from tests.support.lost_answers import fails

LEASE = timedelta(seconds=60)
KEEP = timedelta(days=30)
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
STATUSES = Statuses(working="working", done=frozenset({"done", "skipped"}))


class FakeDb(lost_answers.FakeDb):
    """The claims collection, its documents read by key."""

    def fields(self, key: str) -> dict[str, Any]:
        return super().fields(f"claims/{key}")


@pytest.fixture
def db() -> FakeDb:
    return FakeDb()


def claims_on(db: FakeDb) -> LeasedClaims:
    return LeasedClaims(db, "claims", STATUSES, lease=LEASE, keep=KEEP, timeout=5)  # type: ignore[arg-type]


def test_a_new_claim_is_owned_and_written_with_its_lease_and_details(db: FakeDb) -> None:
    taken = claims_on(db).claim("k", T0, {"kind": "mail"}, same={"digest": "d1"})
    assert taken.outcome is Outcome.OWNED
    assert taken.lease_until == T0 + LEASE
    token = db.fields("k")[OWNER]
    assert re.fullmatch(r"[0-9a-f]{32}", token)  # a uuid4's 122 random bits
    assert db.fields("k") == {
        "status": "working",
        "lease_until": T0 + LEASE,
        "claimed_at": T0,
        "attempts": 1,
        "expire_at": T0 + KEEP,
        "kind": "mail",
        "digest": "d1",
        OWNER: token,
    }
    assert token not in repr(taken)  # what the caller gets (and may log) never carries it
    claims_on(db).claim("k2", T0, {})
    assert db.fields("k2")[OWNER] != token  # each claim attempt draws its own


def test_of_two_deliveries_racing_for_a_new_claim_exactly_one_owns_it(db: FakeDb) -> None:
    claims = claims_on(db)
    second: list[Any] = []
    # The second delivery's create lands between the first's call and its arrival.
    db.before["create"] = lambda: second.append(claims.claim("k", T0, {}))
    first = claims.claim("k", T0, {})
    assert [second[0].outcome, first.outcome] == [Outcome.OWNED, Outcome.IN_FLIGHT]
    assert first.lease_until == T0 + LEASE  # the holder's lease, read
    assert db.fields("k")["attempts"] == 1


def test_a_lost_create_answer_the_retry_meets_is_still_our_claim(db: FakeDb) -> None:
    """The create was written and its answer lost; the client's retry sent it again and was
    answered AlreadyExists by our own claim: it is ours, not another delivery's in flight. A
    second delivery reading the claim meanwhile still finds it in flight."""
    claims = claims_on(db)
    second: list[Any] = []
    db.after["create"] = fails(AlreadyExists("the retry met our own claim"))
    db.before["get"] = lambda: second.append(claims.claim("k", T0 + timedelta(seconds=1), {}))
    with call_counts.measure() as counted:
        taken = claims.claim("k", T0, {"kind": "mail"})
    assert (second[0].outcome, second[0].lease_until) == (Outcome.IN_FLIGHT, T0 + LEASE)
    assert (taken.outcome, taken.lease_until) == (Outcome.OWNED, T0 + LEASE)
    assert db.docs["claims/k"][1] == taken.version  # its version is our claim's update time
    assert db.fields("k")["attempts"] == 1
    # Ours: create, get (the retry is the client's); the second delivery's: create, get.
    assert counted[call_counts.FIRESTORE] == 2 + 2
    assert db.fields("k")[OWNER] not in repr(taken)
    # That version is the release's precondition: released, the next delivery takes it at once.
    claims.release("k", taken.version, T0 + timedelta(seconds=2), "smtp")
    assert db.fields("k")["status"] == "failed"
    assert claims.claim("k", T0 + timedelta(seconds=3), {}).outcome is Outcome.OWNED


def test_a_lost_takeover_answer_the_retry_meets_is_still_our_claim(db: FakeDb) -> None:
    """The takeover was written and its answer lost; the client's retry sent it again and was
    refused, the update time it named being the one our takeover changed: it is ours. A
    second delivery reading the claim meanwhile still finds it in flight."""
    claims = claims_on(db)
    claims.claim("k", T0, {})  # its delivery died
    later = T0 + timedelta(hours=1)
    second: list[Any] = []

    def lost() -> None:
        db.before["get"] = lambda: second.append(claims.claim("k", later, {}))
        raise FailedPrecondition("the retry met our own takeover's update time")

    db.after["update"] = lost
    with call_counts.measure() as counted:
        taken = claims.claim("k", later, {})
    assert (second[0].outcome, second[0].lease_until) == (Outcome.IN_FLIGHT, later + LEASE)
    assert (taken.outcome, taken.lease_until) == (Outcome.OWNED, later + LEASE)
    assert db.docs["claims/k"][1] == taken.version
    assert db.fields("k")["attempts"] == 2  # taken over once
    # Ours: create, get, update, get (the refused takeover's read); the second's: create, get.
    assert counted[call_counts.FIRESTORE] == 4 + 2
    assert db.fields("k")[OWNER] not in repr(taken)
    claims.release("k", taken.version, later, "smtp")
    assert db.fields("k")["status"] == "failed"


def test_a_delivery_never_takes_another_attempts_claim_for_its_own(db: FakeDb) -> None:
    """Only the attempt that drew a token recognises it: a later attempt of the same delivery
    (a Pub/Sub redelivery after the first answered an error) finds the claim in flight, as
    does one whose takeover a racer won; a claim with our token that is no longer working
    (finished or released) is not taken for a live one."""
    claims = claims_on(db)
    db.after["create"] = fails(DeadlineExceeded("no answer"))  # the error reached the caller
    with pytest.raises(DeadlineExceeded):
        claims.claim("k", T0, {})
    assert claims.claim("k", T0, {}).outcome is Outcome.IN_FLIGHT
    # Our token on a finished claim: done, not ours to do again.
    db.after["create"] = fails(AlreadyExists("the retry met our own claim"))
    db.before["get"] = lambda: claims.finish("k2", "done", T0, {})
    assert claims.claim("k2", T0, {}).outcome is Outcome.DONE
    # Our token on a released claim: taken over again (a new claim), not read as ours.
    db.after["create"] = fails(AlreadyExists("the retry met our own claim"))
    db.before["get"] = lambda: claims.release("k3", db.docs["claims/k3"][1], T0, "smtp")
    again = claims.claim("k3", T0, {})
    assert (again.outcome, db.fields("k3")["attempts"]) == (Outcome.OWNED, 2)


def test_a_live_claim_is_in_flight_and_taken_over_only_once_its_lease_has_passed(
    db: FakeDb,
) -> None:
    claims = claims_on(db)
    claims.claim("k", T0, {})
    almost = T0 + LEASE - timedelta(microseconds=1)
    during = claims.claim("k", almost, {})
    assert (during.outcome, during.lease_until) == (Outcome.IN_FLIGHT, T0 + LEASE)
    assert db.fields("k")["attempts"] == 1  # looking took nothing
    after = claims.claim("k", T0 + LEASE, {})
    assert after.outcome is Outcome.OWNED
    assert after.lease_until == T0 + LEASE + LEASE
    assert (db.fields("k")["attempts"], db.fields("k")["claimed_at"]) == (2, T0 + LEASE)


def test_two_claimants_of_a_lapsed_claim_one_wins_by_the_update_time_precondition(
    db: FakeDb,
) -> None:
    claims = claims_on(db)
    claims.claim("k", T0, {})  # its delivery died
    later = T0 + timedelta(hours=1)
    second: list[Any] = []
    # Both read the lapsed claim; the second takes it over between the first's read and write.
    db.before["update"] = lambda: second.append(claims.claim("k", later, {}))
    first = claims.claim("k", later, {})
    assert [second[0].outcome, first.outcome] == [Outcome.OWNED, Outcome.IN_FLIGHT]
    assert first.lease_until == later + LEASE  # the winner's lease, read after the refusal
    assert db.fields("k")["attempts"] == 2  # taken over once


def test_a_done_claim_is_never_taken_again(db: FakeDb) -> None:
    claims = claims_on(db)
    taken = claims.claim("k", T0, {})
    claims.finish("k", "skipped", T0, {"finished_at": T0})
    for when in (T0, T0 + LEASE, T0 + KEEP):
        again = claims.claim("k", when, {})
        assert (again.outcome, again.status) == (Outcome.DONE, "skipped")
    claims.release("k", taken.version, T0, "a late release")  # the done mark stands
    assert claims.claim("k", T0 + LEASE, {}).outcome is Outcome.DONE
    assert db.fields("k")["attempts"] == 1
    assert db.fields("k")["expire_at"] == T0 + KEEP


def test_a_released_claim_is_taken_at_once_and_a_stale_release_changes_nothing(
    db: FakeDb,
) -> None:
    claims = claims_on(db)
    first = claims.claim("k", T0, {})
    claims.release("k", first.version, T0 + timedelta(seconds=5), "x" * 400)
    assert db.fields("k")["status"] == "failed"
    assert db.fields("k")["last_error"] == "x" * 300
    # Released: free at once, even to a claimant whose clock is behind the release's.
    second = claims.claim("k", T0 + timedelta(seconds=1), {})
    assert second.outcome is Outcome.OWNED
    claims.release("k", first.version, T0 + timedelta(seconds=2), "stale")  # taken over since
    assert db.fields("k")["status"] == "working"
    assert claims.claim("k", T0 + timedelta(seconds=3), {}).outcome is Outcome.IN_FLIGHT


def test_the_same_id_for_other_work_is_a_conflict_whatever_its_status(db: FakeDb) -> None:
    claims = claims_on(db)
    claims.claim("k", T0, {}, same={"digest": "d1"})
    other = claims.claim("k", T0 + LEASE, {}, same={"digest": "d2"})  # lapsed, but not its own
    assert (other.outcome, other.status) == (Outcome.CONFLICT, "working")
    assert db.fields("k")["attempts"] == 1
    claims.finish("k", "done", T0, {})
    done = claims.claim("k", T0 + LEASE, {}, same={"digest": "d2"})
    assert (done.outcome, done.status) == (Outcome.CONFLICT, "done")
    assert claims.claim("k", T0 + LEASE, {}, same={"digest": "d1"}).outcome is Outcome.DONE


def test_a_claim_deleted_between_the_create_and_the_read_is_in_flight(db: FakeDb) -> None:
    claims = claims_on(db)
    claims.claim("k", T0, {})
    db.before["get"] = lambda: db.docs.clear()  # a TTL deletion
    assert claims.claim("k", T0 + LEASE, {}).outcome is Outcome.IN_FLIGHT
    assert claims.claim("k", T0 + LEASE, {}).outcome is Outcome.OWNED  # the next one claims


def test_each_round_trip_is_counted(db: FakeDb) -> None:
    claims = claims_on(db)
    with call_counts.measure() as fresh:
        taken = claims.claim("k", T0, {})
    with call_counts.measure() as in_flight:
        claims.claim("k", T0, {})
    with call_counts.measure() as takeover:
        claims.claim("k", T0 + LEASE, {})
    with call_counts.measure() as ends:
        claims.release("k", taken.version, T0, "stale")
        claims.finish("k", "done", T0, {})
    assert [c[call_counts.FIRESTORE] for c in (fresh, in_flight, takeover, ends)] == [1, 2, 3, 2]


def test_names_that_would_blur_the_states_are_refused(db: FakeDb) -> None:
    with pytest.raises(ValueError, match="overlap"):
        Statuses(working="done", done=frozenset({"done"}))
    with pytest.raises(ValueError, match="overlap"):
        Statuses(working="working", done=frozenset({"failed"}))
    with pytest.raises(ValueError, match="not a done status"):
        claims_on(db).finish("k", "working", T0, {})
    with pytest.raises(ValueError, match="positive"):
        LeasedClaims(db, "c", STATUSES, lease=timedelta(0), keep=KEEP, timeout=5)  # type: ignore[arg-type]


def test_a_takeover_renews_the_lease_so_no_other_delivery_takes_it_meanwhile(db: FakeDb) -> None:
    claims = claims_on(db)
    claims.claim("k", T0, {})  # its delivery died
    later = T0 + timedelta(hours=1)
    assert claims.claim("k", later, {}).outcome is Outcome.OWNED
    assert db.fields("k")["lease_until"] == later + LEASE
    during = claims.claim("k", later + LEASE - timedelta(microseconds=1), {})
    assert (during.outcome, during.lease_until) == (Outcome.IN_FLIGHT, later + LEASE)
    assert db.fields("k")["attempts"] == 2


def test_a_finished_claim_is_kept_for_keep_from_its_finish(db: FakeDb) -> None:
    claims = claims_on(db)
    claims.claim("k", T0, {})
    finished = T0 + timedelta(days=3)  # a claim retried for days before it was done
    claims.finish("k", "done", finished, {})
    assert db.fields("k")["expire_at"] == finished + KEEP


def test_firestore_failing_mid_claim_is_an_error_and_never_a_second_owner(db: FakeDb) -> None:
    """Each failure reaches the caller as the error (both answer it 503: Pub/Sub delivers it
    again), never as an outcome; a write whose answer was lost to the caller (a deadline, or
    the retries spent) is a live claim that nobody knows it owns, so the next delivery (another
    attempt, another token) waits for its lease, then takes it over once."""
    claims = claims_on(db)
    almost = timedelta(microseconds=1)
    # The create refused, unwritten: nothing is held, the next delivery claims afresh.
    db.before["create"] = fails(ServiceUnavailable("down"))
    with pytest.raises(ServiceUnavailable):
        claims.claim("k", T0, {})
    assert db.docs == {}
    # The create written, its answer lost.
    db.after["create"] = fails(DeadlineExceeded("no answer"))
    with pytest.raises(DeadlineExceeded):
        claims.claim("k", T0, {})
    assert claims.claim("k", T0 + LEASE - almost, {}).outcome is Outcome.IN_FLIGHT
    # The read fails: nothing is written.
    db.before["get"] = fails(ServiceUnavailable("down"))
    with pytest.raises(ServiceUnavailable):
        claims.claim("k", T0 + LEASE, {})
    assert db.fields("k")["attempts"] == 1
    # The takeover refused, unwritten: the lapsed claim is still there to take.
    db.before["update"] = fails(ServiceUnavailable("down"))
    with pytest.raises(ServiceUnavailable):
        claims.claim("k", T0 + LEASE, {})
    assert db.fields("k")["attempts"] == 1
    # The takeover written, its answer lost: its new lease holds the next delivery off.
    db.after["update"] = fails(DeadlineExceeded("no answer"))
    with pytest.raises(DeadlineExceeded):
        claims.claim("k", T0 + LEASE, {})
    assert db.fields("k")["attempts"] == 2
    assert claims.claim("k", T0 + 2 * LEASE - almost, {}).outcome is Outcome.IN_FLIGHT
    owner = claims.claim("k", T0 + 2 * LEASE, {})
    assert (owner.outcome, db.fields("k")["attempts"]) == (Outcome.OWNED, 3)
    # A failed release is the caller's to ignore (the lease then lapses on its own), a failed
    # finish its to handle (the work is done but not marked): both reach it, nothing changes.
    db.before["update"] = fails(ServiceUnavailable("down"))
    with pytest.raises(ServiceUnavailable):
        claims.release("k", owner.version, T0 + 2 * LEASE, "smtp")
    db.before["update"] = fails(ServiceUnavailable("down"))
    with pytest.raises(ServiceUnavailable):
        claims.finish("k", "done", T0 + 2 * LEASE, {})
    assert db.fields("k")["status"] == "working"
    assert claims.claim("k", T0 + 3 * LEASE - almost, {}).outcome is Outcome.IN_FLIGHT


def test_every_round_trip_is_bounded_by_the_timeout_retries_included(db: FakeDb) -> None:
    claims = claims_on(db)  # timeout=5
    taken = claims.claim("k", T0, {})  # create
    claims.claim("k", T0, {})  # create, get
    claims.claim("k", T0 + LEASE, {})  # create, get, update
    db.after["update"] = fails(FailedPrecondition("lost"))
    claims.claim("k", T0 + 2 * LEASE, {})  # create, get, update, get
    claims.release("k", taken.version, T0, "stale")
    claims.finish("k", "done", T0, {})
    assert db.calls.count("update") == 4
    assert db.calls.count("get") == 4
    for op, kwargs in db.kwargs:
        assert (op, kwargs["timeout"], kwargs["retry"].timeout) == (op, 5, 5)


def test_a_callers_fields_cannot_set_the_owner_token(db: FakeDb) -> None:
    """A caller's field naming the token would replace this attempt's (and a forged one could
    make a claim read as someone's own): refused, by its name."""
    claims = claims_on(db)
    for details, same in (({"owner": "forged"}, {}), ({}, {"owner": "forged"})):
        with pytest.raises(ValueError, match="own fields: owner"):
            claims.claim("k", T0, details, same=same)
    assert db.docs == {}
    claims.claim("k", T0, {})
    token = db.fields("k")["owner"]
    with pytest.raises(ValueError, match="own fields: owner"):
        claims.finish("k", "done", T0, {"owner": "forged"})
    assert db.fields("k")["owner"] == token


@pytest.mark.parametrize("name", sorted(OWN_FIELDS))
def test_a_callers_fields_cannot_set_the_claims_own(db: FakeDb, name: str) -> None:
    claims = claims_on(db)
    with pytest.raises(ValueError, match=f"own fields: {name}"):
        claims.claim("k", T0, {name: "x"})
    with pytest.raises(ValueError, match=f"own fields: {name}"):
        claims.claim("k", T0, {}, same={name: "x"})
    assert db.docs == {}
    claims.claim("k", T0, {})
    with pytest.raises(ValueError, match=f"own fields: {name}"):
        claims.finish("k", "done", T0, {name: "working"})
    assert db.fields("k")["status"] == "working"
