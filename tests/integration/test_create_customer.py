"""create-customer over HTTP against the emulators and the Stripe stand-in."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.cloud import firestore

from devstack.stack import StackInfo
from devstack.tokens import mint_token
from tests.support.stack_fixtures import Api, StandIn, User

pytestmark = pytest.mark.integration


def test_creates_one_customer_mapped_both_ways(
    user: User, standin: StandIn, db: firestore.Client
) -> None:
    body = user.ok("create-customer", {"name": "Ada Lovelace"})
    assert body["created"] is True
    customer = standin.sdk.v1.customers.retrieve(body["customer_id"])
    assert customer.email == user.email
    assert customer.name == "Ada Lovelace"
    assert customer.metadata is not None
    assert customer.metadata["firebase_uid"] == user.uid
    forward = db.collection("billing_customers").document(user.uid).get().to_dict()
    assert forward is not None
    assert forward["customer_id"] == body["customer_id"]
    back = db.collection("billing_customers_by_stripe_id").document(body["customer_id"]).get()
    assert (back.to_dict() or {}).get("uid") == user.uid


def test_twenty_concurrent_calls_make_exactly_one_stripe_customer(
    user: User, standin: StandIn
) -> None:
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: user.call("create-customer", {}), range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert len({b["customer_id"] for b in bodies}) == 1
    assert sum(b["created"] for b in bodies) == 1
    matching = standin.sdk.v1.customers.list(params={"email": user.email})
    assert len(matching.data) == 1


def test_a_second_call_later_returns_the_same_customer_without_stripe(
    user: User, standin: StandIn
) -> None:
    first = user.ok("create-customer")
    before = len(standin.requests(path_prefix="/v1/customers"))
    again = user.ok("create-customer")
    assert again == {"customer_id": first["customer_id"], "created": False}
    assert len(standin.requests(path_prefix="/v1/customers")) == before


@pytest.mark.parametrize("token_kind", ["missing", "forged", "expired", "wrong_project", "garbage"])
def test_bad_tokens_get_401(api: Api, stack: StackInfo, token_kind: str) -> None:
    tokens = {
        "missing": None,
        "forged": mint_token(
            "victim",
            "v@example.com",
            project_id=stack.project_id,
            header={"alg": "RS256", "kid": "k1"},
            signature="Zm9yZ2Vk",
        ),
        "expired": mint_token(
            "u1",
            "u1@example.com",
            project_id=stack.project_id,
            issued_at=int(time.time()) - 7200,
        ),
        "wrong_project": mint_token("u1", "u1@example.com", project_id="another-project"),
        "garbage": "not.a.token",
    }
    response = api.call("create-customer", {}, token=tokens[token_kind])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] in {"missing_token", "invalid_token", "expired_token"}


@pytest.mark.parametrize(
    ("data", "content_type", "status", "words"),
    [
        (b'{"name": "Ada"', "application/json", 400, "not valid JSON"),
        (b'["Ada"]', "application/json", 400, "must be a JSON object"),
        (b'{"name": 7}', "application/json", 400, "name"),
        (b'{"nmae": "Ada"}', "application/json", 400, "nmae"),
        (b"name=Ada", "application/x-www-form-urlencoded", 415, "application/json"),
        (b'{"name": "' + b"x" * 20000 + b'"}', "application/json", 413, "larger than"),
    ],
)
def test_malformed_bodies_are_rejected_naming_the_problem(
    user: User, data: bytes, content_type: str, status: int, words: str
) -> None:
    response = user.call("create-customer", data=data, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert words in response.json()["error"]["message"]


def test_wrong_method_is_405(user: User) -> None:
    response = user.call("create-customer", method="GET", check_schema=False)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_cors_preflight_from_the_configured_frontend(api: Api) -> None:
    response = api.call(
        "create-customer",
        method="OPTIONS",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
        check_schema=False,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_stripe_unavailable_is_503_and_leaves_nothing_half_written(
    user: User, faults: StandIn, db: firestore.Client
) -> None:
    faults.fault(method="POST", path_prefix="/v1/customers", kind="error", status=500)
    response = user.call("create-customer", {})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response.headers["Retry-After"].isdigit()
    # Only the user's claim is written (no customer in it); no Stripe customer exists.
    claim = db.collection("billing_customers").document(user.uid).get().to_dict()
    assert claim is not None
    assert claim["customer_id"] is None
    assert faults.sdk.v1.customers.list(params={"email": user.email}).data == []
    faults.clear_faults()
    retried = user.ok("create-customer")
    assert retried["created"] is True
    assert len(faults.sdk.v1.customers.list(params={"email": user.email}).data) == 1
    back = db.collection("billing_customers_by_stripe_id").document(retried["customer_id"]).get()
    assert (back.to_dict() or {}).get("uid") == user.uid


def test_stripe_connection_drop_is_503_too(user: User, faults: StandIn) -> None:
    faults.fault(method="POST", path_prefix="/v1/customers", kind="disconnect")
    response = user.call("create-customer", {})
    assert response.status_code == 503


def test_logs_are_json_and_hold_no_token_or_key(user: User, stack: StackInfo) -> None:
    import json

    user.ok("create-customer")
    tampered = user.token[:-1] + "x"  # a signature on an unsigned token: rejected, logged
    assert user.api.call("create-customer", {}, token=tampered).status_code == 401
    log = stack.log_file("create-customer").read_text()
    assert user.token not in log
    assert user.token.split(".")[1] not in log
    assert tampered not in log
    assert "sk_test_standin_local" not in log
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    mine = [e for e in entries if e.get("uid") == user.uid]
    assert mine, "expected a request log line carrying the caller's uid"
    assert all(e["function"] == "create-customer" for e in mine)
    assert any(e.get("httpRequest", {}).get("status") == 200 for e in mine)


@pytest.mark.parametrize("shape", ["team/{}", "..", "__{}__"])
def test_custom_token_uids_firestore_cannot_take_as_ids_still_work(
    api: Api, stack: StackInfo, shape: str
) -> None:
    import uuid

    unique = uuid.uuid4().hex[:8]
    token = mint_token(shape.format(unique), f"{unique}@example.com", project_id=stack.project_id)
    first = api.call("create-customer", {}, token=token)
    assert first.status_code == 200, first.text
    again = api.call("create-customer", {}, token=token)
    assert again.status_code == 200, again.text
    assert again.json()["customer_id"] == first.json()["customer_id"]
