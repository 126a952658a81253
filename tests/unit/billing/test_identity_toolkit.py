"""What each answer of Identity Toolkit means for the webhook: retry, skip, or stop."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from billing.errors import UpstreamUnavailable
from billing.identity_toolkit import ClaimsRefused, IdentityToolkit


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeSession:
    def __init__(self, answer: FakeResponse | Exception) -> None:
        self.answer = answer
        self.headers: dict[str, str] = {}
        self.calls: list[tuple[str, Any]] = []

    def post(self, url: str, *, json: Any, timeout: float) -> FakeResponse:
        self.calls.append((url, json))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def toolkit(answer: FakeResponse | Exception, *, emulator: str | None = None) -> IdentityToolkit:
    return IdentityToolkit(
        "demo-billing", emulator_host=emulator, timeout=2, session=FakeSession(answer)
    )


def _error(message: str) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message}}


@pytest.mark.parametrize(
    "answer",
    [
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        FakeResponse(503, {}),
        FakeResponse(429, _error("QUOTA_EXCEEDED")),
        FakeResponse(502, ValueError("not json")),
    ],
)
def test_an_unreachable_or_overloaded_auth_is_503_so_stripe_retries(answer: Any) -> None:
    with pytest.raises(UpstreamUnavailable):
        toolkit(answer).set_custom_claims("u1", {"billing": None})


def test_a_missing_user_is_not_an_error() -> None:
    assert toolkit(FakeResponse(400, _error("USER_NOT_FOUND"))).set_custom_claims("u1", {}) is False
    assert toolkit(FakeResponse(200, {"kind": "x"})).custom_claims("u1") is None


@pytest.mark.parametrize("message", ["CLAIMS_TOO_LARGE", "PERMISSION_DENIED", "INVALID_CLAIMS"])
def test_any_other_refusal_is_named(message: str) -> None:
    with pytest.raises(ClaimsRefused, match=message):
        toolkit(FakeResponse(400, _error(message))).set_custom_claims("u1", {})


def test_claims_are_sent_as_the_json_string_identity_toolkit_takes() -> None:
    session = FakeSession(FakeResponse(200, {}))
    users = IdentityToolkit("p1", emulator_host="127.0.0.1:9099", timeout=2, session=session)
    assert users.set_custom_claims("u1", {"billing": {"active": True}}) is True
    url, body = session.calls[0]
    assert (
        url == "http://127.0.0.1:9099/identitytoolkit.googleapis.com/v1/projects/p1/accounts:update"
    )
    assert body == {"localId": "u1", "customAttributes": '{"billing":{"active":true}}'}
    assert session.headers["Authorization"] == "Bearer owner"


def test_the_users_claims_are_read_from_the_lookup() -> None:
    answer = {"users": [{"localId": "u1", "customAttributes": json.dumps({"role": "admin"})}]}
    assert toolkit(FakeResponse(200, answer)).custom_claims("u1") == {"role": "admin"}
    assert toolkit(FakeResponse(200, {"users": [{"localId": "u1"}]})).custom_claims("u1") == {}
