"""Hostile tokens and bodies, over HTTP: never a 500, never an ERROR log line, never Stripe.

Tokens that cannot be parsed are 401 in the error shape, in emulator mode (the session's
stack) and with the production verifier (an extra instance without the emulator variable),
and log at INFO only: a cheap flood must not page anyone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.stack import Stack, StackInfo
from devstack.tokens import mint_token
from tests.support.billing_flows import with_stripe_calls
from tests.support.hostile import HOSTILE_TOKENS, claims_with
from tests.support.stack_fixtures import STATE_DIR, Api, StandIn, User, extra_function, log_entries

pytestmark = pytest.mark.integration

# gunicorn answers a header over 8,190 bytes itself (431) before any function code runs.
FITS_A_HEADER = sorted(name for name, token in HOSTILE_TOKENS.items() if len(token) < 8000)


def _assert_refused_quietly(response: requests.Response, log: Path, status: int) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    entries = log_entries(log, response.headers["X-Request-Id"])
    assert any("httpRequest" in entry for entry in entries), "no request log line"
    assert [e for e in entries if e["severity"] not in ("INFO", "DEBUG")] == []


def test_the_hostile_token_builder_makes_a_token_the_stack_accepts(api: Api) -> None:
    # So each hostile token is refused for its one bad part (claims_with's own are valid).
    response = api.call(
        "retrieve-payment-method", {"payment_method_id": "pm_x"}, token=claims_with()
    )
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("name", FITS_A_HEADER)
def test_hostile_tokens_are_401_without_an_error_log(
    api: Api, stack: StackInfo, standin: StandIn, name: str
) -> None:
    response, calls = with_stripe_calls(
        standin, lambda: api.call("create-customer", {"name": "x"}, token=HOSTILE_TOKENS[name])
    )
    _assert_refused_quietly(response, stack.log_file("create-customer"), 401)
    assert response.json()["error"]["code"] == "invalid_token"
    assert calls == []


@pytest.fixture(scope="module")
def production_verifier_url(running_stack: Stack) -> Iterator[str]:
    # Without FIREBASE_AUTH_EMULATOR_HOST the function wants tokens signed by Google's keys,
    # which it cannot fetch from here: each hostile token must be refused before any fetch.
    overrides: dict[str, str | None] = {"FIREBASE_AUTH_EMULATOR_HOST": None}
    with extra_function(running_stack, "create_customer", overrides, name="prod-auth") as url:
        yield url


@pytest.mark.parametrize("name", FITS_A_HEADER)
def test_hostile_tokens_are_401_with_the_production_verifier_too(
    production_verifier_url: str, name: str
) -> None:
    response = requests.post(
        production_verifier_url,
        json={},
        headers={"Authorization": f"Bearer {HOSTILE_TOKENS[name]}"},
        timeout=30,
    )
    _assert_refused_quietly(response, STATE_DIR / "logs" / "prod-auth-extra.log", 401)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"name": ' + b"7" * 5000 + b"}", "longer than 64"),
        (b'{"name": "x", "unknown": ' + b"7" * 5000 + b"}", "longer than 64"),
        (b'{"name": "\\ud800"}', "lone surrogate"),
        (b'{"nam\\udfffe": "x"}', "lone surrogate"),
        (b"[" * 2000 + b"]" * 2000, "nested"),
        (b'{"name": NaN}', "NaN"),
        (b'{"name": 1e400}', "out of range"),
    ],
)
def test_hostile_bodies_are_400_malformed_json(
    user: User, stack: StackInfo, standin: StandIn, body: bytes, reason: str
) -> None:
    response, calls = with_stripe_calls(
        standin,
        lambda: user.call(
            "create-customer", data=body, headers={"Content-Type": "application/json"}
        ),
    )
    _assert_refused_quietly(response, stack.log_file("create-customer"), 400)
    assert response.json()["error"]["code"] == "malformed_json"
    assert reason in response.json()["error"]["message"]
    assert calls == []


def test_a_lone_surrogate_uid_never_reaches_firestore(api: Api, stack: StackInfo) -> None:
    # mint_token writes the uid as the JSON escape \ud800, as an attacker's token would.
    token = mint_token("\ud800bob", "bob@example.com", project_id=stack.project_id)
    response = api.call("create-customer", {}, token=token)
    _assert_refused_quietly(response, stack.log_file("create-customer"), 401)
