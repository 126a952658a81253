"""firestore.rules, enforced by the Firestore emulator, with real (emulator-format) ID tokens:
a signed-in user reads their own entitlements/{uid} live, and nothing else; no client writes."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.cloud import firestore

from devstack.stack import StackInfo
from devstack.tokens import mint_token
from tests.support.billing_flows import subscribe
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import wait_until


class Client:
    """The Firestore REST API as the web SDK uses it, with the caller's ID token."""

    def __init__(self, info: StackInfo) -> None:
        self.base = (
            f"http://{info.firestore_emulator_host}/v1/projects/{info.project_id}"
            "/databases/(default)/documents"
        )

    def get(self, path: str, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.base}/{path}", headers=headers, timeout=10)

    def patch(self, path: str, token: str, fields: dict[str, Any]) -> requests.Response:
        return requests.patch(
            f"{self.base}/{path}",
            json={"fields": fields},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )


@pytest.fixture(scope="module")
def paid(api: Any, stack: StackInfo, standin: StandIn, db: firestore.Client) -> tuple[User, Client]:
    owner = User(api, stack.project_id)
    subscribe(owner, standin)
    wait_until(
        lambda: db.collection("entitlements").document(owner.uid).get().exists,
        "the entitlement document",
    )
    return owner, Client(stack)


def test_a_user_reads_their_own_entitlement(paid: tuple[User, Client]) -> None:
    owner, client = paid
    response = client.get(f"entitlements/{owner.uid}", owner.token)
    assert response.status_code == 200, response.text
    assert response.json()["fields"]["active"] == {"booleanValue": True}


def test_another_user_cannot_read_it(paid: tuple[User, Client], other_user: User) -> None:
    owner, client = paid
    assert client.get(f"entitlements/{owner.uid}", other_user.token).status_code == 403
    assert client.get(f"entitlements/{owner.uid}", None).status_code == 403
    assert client.get(f"entitlements/{owner.uid}", "owner").status_code == 200  # admin: it exists


def test_no_client_writes_even_their_own(paid: tuple[User, Client]) -> None:
    owner, client = paid
    forged = {"active": {"booleanValue": True}, "features": {"arrayValue": {}}}
    assert client.patch(f"entitlements/{owner.uid}", owner.token, forged).status_code == 403
    assert client.patch(f"entitlements/{owner.uid}-x", owner.token, forged).status_code == 403


@pytest.mark.parametrize(
    "path", ["billing_customers/{uid}", "entitlement_syncs/{uid}", "stripe_events/evt_1"]
)
def test_nothing_else_is_readable(path: str, paid: tuple[User, Client]) -> None:
    owner, client = paid
    assert client.get(path.format(uid=owner.uid), owner.token).status_code == 403


def test_a_token_cannot_name_a_hashed_document_as_its_uid(stack: StackInfo) -> None:
    # Uids Firestore cannot take as ids are stored under "uid-sha256-<hash>" (store.doc_id): a
    # custom token whose uid is that very string must not read someone else's entitlement.
    client = Client(stack)
    hashed = "uid-sha256-" + "ab" * 32
    created = requests.patch(
        f"{client.base}/entitlements/{hashed}",
        json={"fields": {"active": {"booleanValue": True}}},
        headers={"Authorization": "Bearer owner"},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    token = mint_token(hashed, "x@example.com", project_id=stack.project_id)
    assert client.get(f"entitlements/{hashed}", token).status_code == 403
