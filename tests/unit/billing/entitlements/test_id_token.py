"""The billing custom claim: derived from the entitlement document, merged, small, ordered."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from billing.entitlements import id_token
from billing.errors import UpstreamUnavailable

ACTIVE = {
    "active": True,
    "product_id": "prod_pro",
    "price_id": "price_pro_monthly",
    "features": ["api_access", "reports"],
    "valid_until": 1_900_000_000,
    "status": "active",
}


class FakeUsers:
    """Firebase Auth users as Identity Toolkit keeps them: claims replaced whole."""

    def __init__(self, claims: dict[str, dict[str, Any]]) -> None:
        self.claims = claims
        self.writes: list[dict[str, Any]] = []
        self.on_lookup: Any = None

    def custom_claims(self, uid: str) -> dict[str, Any] | None:
        if self.on_lookup is not None:
            self.on_lookup()
        found = self.claims.get(uid)
        return None if found is None else dict(found)

    def set_custom_claims(self, uid: str, claims: Mapping[str, Any]) -> bool:
        if uid not in self.claims:
            return False
        assert len(json.dumps(dict(claims), separators=(",", ":"))) <= 1000, "Firebase refuses"
        self.claims[uid] = dict(claims)
        self.writes.append(dict(claims))
        return True


def test_an_active_entitlement_becomes_the_claim() -> None:
    assert id_token.claim_of(ACTIVE) == {
        "plan": "prod_pro",
        "price": "price_pro_monthly",
        "active": True,
        "features": ["api_access", "reports"],
        "valid_until": 1_900_000_000,
    }


@pytest.mark.parametrize("document", [None, {**ACTIVE, "active": False, "features": []}])
def test_no_access_means_no_claim(document: dict[str, Any] | None) -> None:
    assert id_token.claim_of(document) is None


def test_the_apps_own_claims_are_kept_and_an_ended_access_clears_only_billing() -> None:
    mine = {"role": "admin", "tenant": "t1"}
    granted = id_token.merged(mine, ACTIVE)
    assert granted is not None
    assert {k: granted[k] for k in mine} == mine
    assert granted["billing"]["plan"] == "prod_pro"
    assert id_token.merged(granted, {**ACTIVE, "active": False}) == mine


def test_features_that_do_not_fit_are_left_to_the_document() -> None:
    many = {**ACTIVE, "features": [f"feature_number_{n:03}" for n in range(60)]}
    claims = id_token.merged({"role": "admin"}, many)
    assert claims is not None
    assert claims["billing"]["features"] is None
    assert claims["billing"]["plan"] == "prod_pro"
    assert len(json.dumps(claims, separators=(",", ":"))) <= id_token.MAX_CLAIMS_BYTES


def test_a_claim_that_cannot_fit_beside_the_apps_claims_is_not_written() -> None:
    crowded = {"profile": "x" * 960}
    users = FakeUsers({"u1": crowded})
    assert id_token.merged(crowded, ACTIVE) is None
    assert id_token.publish(users, "u1", lambda: (ACTIVE, 1)) == "too_large"
    assert users.claims["u1"] == crowded


def test_a_user_that_does_not_exist_is_skipped() -> None:
    assert id_token.publish(FakeUsers({}), "ghost", lambda: (ACTIVE, 1)) == "no_user"


def test_an_unchanged_claim_is_not_written_again() -> None:
    users = FakeUsers({"u1": {}})
    assert id_token.publish(users, "u1", lambda: (ACTIVE, 1)) == "written"
    assert id_token.publish(users, "u1", lambda: (ACTIVE, 1)) == "unchanged"
    assert len(users.writes) == 1


def test_a_newer_sync_during_the_write_is_never_overwritten_by_the_older_one() -> None:
    """The older webhook read the document; then a newer sync wrote the document and its
    claim before the older one's claim write. The older one finds a newer claim and writes
    nothing: the claim never goes back, and ends at the newest document."""
    documents = {"current": ({**ACTIVE, "version": 1}, 1)}
    downgraded = {**ACTIVE, "product_id": "prod_basic", "features": ["reports"], "version": 2}
    users = FakeUsers({"u1": {}})

    def newer_sync_lands() -> None:
        users.on_lookup = None
        documents["current"] = (downgraded, 2)
        users.claims["u1"] = {"billing": id_token.claim_of(downgraded)}

    users.on_lookup = newer_sync_lands
    id_token.publish(users, "u1", lambda: documents["current"])
    assert [w["billing"]["plan"] for w in users.writes] == [], "no stale write"
    assert users.claims["u1"]["billing"] == id_token.claim_of(downgraded)


def test_a_late_sync_of_an_older_document_never_takes_the_claim_back() -> None:
    """Pro (version 6) is in the token; a late sync of version 5 (Basic) must not write."""
    pro = {**ACTIVE, "version": 6}
    basic = {**ACTIVE, "product_id": "prod_basic", "price_id": "price_basic", "version": 5}
    users = FakeUsers({"u1": {"role": "admin", "billing": id_token.claim_of(pro)}})
    assert id_token.publish(users, "u1", lambda: (pro, 6), known=(basic, 5)) == "unchanged"
    assert users.writes == []
    assert users.claims["u1"]["billing"]["plan"] == "prod_pro"


def test_a_claim_that_no_longer_fits_removes_the_old_plans_claim() -> None:
    """The user had a Pro claim; the new document's claim cannot fit beside the app's claims:
    the old claim must not stay and keep granting Pro."""
    crowded = {"profile": "x" * 930}
    users = FakeUsers({"u1": crowded | {"billing": {"plan": "prod_pro", "active": True}}})
    assert id_token.publish(users, "u1", lambda: ({**ACTIVE, "version": 2}, 2)) == "too_large"
    assert users.claims["u1"] == crowded


def test_a_document_that_keeps_changing_is_retried_by_the_sender() -> None:
    versions = iter(range(1, 100))
    users = FakeUsers({"u1": {}})
    with pytest.raises(UpstreamUnavailable):
        id_token.publish(users, "u1", lambda: (ACTIVE, next(versions)))


def test_the_document_a_sync_just_wrote_spares_the_first_read() -> None:
    users = FakeUsers({"u1": {}})
    reads: list[int] = []

    def read() -> tuple[dict[str, Any] | None, int]:
        reads.append(1)
        return ACTIVE, 1

    assert id_token.publish(users, "u1", read, known=(ACTIVE, 1)) == "written"
    # A write is made from a document read just before it (the known copy could be a late
    # sync's), then the look after it: is the document still version 1?
    assert len(reads) == 2
    assert users.claims["u1"][id_token.CLAIM] == id_token.claim_of({**ACTIVE, "version": 1})
    reads.clear()
    assert id_token.publish(users, "u1", read, known=(ACTIVE, 1)) == "unchanged"
    assert len(reads) == 1  # nothing to write (most events): only the look after


def test_a_newer_document_than_the_known_one_is_still_written_last() -> None:
    # The sync wrote version 1 (known); a newer sync wrote version 2 before the claim did:
    # the look before the write finds it, and the claim is written once, from version 2.
    users = FakeUsers({"u1": {}})
    newer = ACTIVE | {"features": ["reports", "exports"]}
    assert id_token.publish(users, "u1", lambda: (newer, 2), known=(ACTIVE, 1)) == "written"
    assert users.claims["u1"][id_token.CLAIM] == id_token.claim_of({**newer, "version": 2})
    assert len(users.writes) == 1


def test_a_late_sync_never_writes_an_older_plan_over_an_unchanged_claims_older_version() -> None:
    """Review 17, finding 5: Pro was written from version 5; the document became Pro at 7 (the
    claim's content unchanged, so not rewritten: it still says 5); a late sync of version 6
    (Basic) arrives. It must write nothing, not even for a moment: a token minted then would
    carry Basic."""
    pro5 = {**ACTIVE, "version": 5}
    pro7 = {**ACTIVE, "version": 7}
    basic6 = {**ACTIVE, "product_id": "prod_basic", "price_id": "price_basic", "version": 6}
    users = FakeUsers({"u1": {"billing": id_token.claim_of(pro5)}})
    assert id_token.publish(users, "u1", lambda: (pro7, 7), known=(basic6, 6)) == "unchanged"
    assert users.writes == []
    assert users.claims["u1"]["billing"]["plan"] == "prod_pro"


class _Doc:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def get(self, **_: Any) -> _Doc:
        return self

    def document(self, _: str) -> _Doc:
        return self

    def collection(self, _: str) -> _Doc:
        return self

    def to_dict(self) -> dict[str, Any]:
        return self._data


def test_a_claim_left_as_it_was_logs_nothing_and_a_written_one_says_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    # The document is read by core.firestore.get_document (Firestore's GetDocument RPC):
    # here the in-memory document is its own snapshot.
    monkeypatch.setattr(id_token, "get_document", lambda ref, **_: ref.get())

    users = FakeUsers({"u1": {}})
    runtime = SimpleNamespace(
        settings=SimpleNamespace(entitlement_claims=True, firestore_timeout_seconds=5.0),
        firestore=_Doc(ACTIVE | {"version": 1}),
        auth_users=users,
    )
    ctx: Any = SimpleNamespace(runtime=runtime)
    with caplog.at_level("INFO", logger=id_token.__name__):
        assert id_token.publish_for(ctx, "u1") == "written"
        assert id_token.publish_for(ctx, "u1") == "unchanged"
    assert [r.getMessage() for r in caplog.records] == ["billing claim written"]
