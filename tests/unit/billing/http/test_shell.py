"""The shared HTTP layer: every failure mode answers with the one error shape and status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from google.api_core import exceptions as google_exceptions
from pydantic import BaseModel, ConfigDict

from billing.config import BillingSettings
from billing.context import Context, RequestModel, ResponseModel
from billing.errors import ALREADY_SUBSCRIBED, Conflict
from billing.http.browser import BrowserEndpoint
from billing.runtime import Runtime
from tests.support.fakes import FakeVerifier
from tests.support.helpers import client_for


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    size: int


class EchoRequest(RequestModel):
    name: str
    count: int = 1
    inner: Inner | None = None


class EchoResponse(ResponseModel):
    uid: str
    name: str
    count: int


def echo_op(ctx: Context, body: EchoRequest) -> EchoResponse:
    return EchoResponse(uid=ctx.user.uid, name=body.name, count=body.count)


echo = BrowserEndpoint("echo_op", echo_op, EchoRequest)


class Boom(RequestModel):
    pass


raise_this: list[BaseException] = []


def boom_op(ctx: Context, body: Boom) -> EchoResponse:
    raise raise_this[0]


boom = BrowserEndpoint("boom_op", boom_op, Boom)


@pytest.fixture
def rt(settings: BillingSettings, verifier: FakeVerifier) -> Runtime:
    verifier.add("alice", "alice@example.com")
    return Runtime(settings, verifier=verifier)


@pytest.fixture
def post(rt: Runtime) -> Callable[..., Any]:
    client = client_for(echo, rt)

    def do(body: Any = None, *, token: str | None = "token-alice", **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None and "data" not in kwargs:
            kwargs["json"] = body
        return client.post("/", headers=headers, **kwargs)

    return do


def error_of(response: Any) -> dict[str, str]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


def test_valid_request_runs_the_operation_as_the_verified_caller(post: Callable[..., Any]) -> None:
    response = post({"name": "Ada", "count": 2})
    assert response.status_code == 200
    assert response.get_json() == {"uid": "alice", "name": "Ada", "count": 2}
    assert response.headers["Cache-Control"] == "no-store"
    assert len(response.headers["X-Request-Id"]) >= 8


def test_wrong_method_is_405_with_allow(rt: Runtime) -> None:
    response = client_for(echo, rt).get("/", headers={"Authorization": "Bearer token-alice"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"
    assert error_of(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_token"),
        ({"Authorization": "Bearer"}, "invalid_token"),
        ({"Authorization": "Bearer token-mallory"}, "invalid_token"),
    ],
)
def test_missing_or_bad_token_is_401(
    post: Callable[..., Any], headers: dict[str, str], code: str
) -> None:
    response = post({"name": "x"}, token=None, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert error_of(response)["code"] == code


def test_malformed_json_is_400_naming_the_problem(post: Callable[..., Any]) -> None:
    response = post(data=b'{"name": ', content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_json"
    assert "not valid JSON" in error["message"]
    assert "line 1" in error["message"]


def test_non_object_json_is_400(post: Callable[..., Any]) -> None:
    response = post(["name"])
    assert response.status_code == 400
    assert error_of(response)["message"] == "The request body must be a JSON object."


def test_wrong_content_type_is_415(post: Callable[..., Any]) -> None:
    response = post(data=b"name=Ada", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in error_of(response)["message"]


def test_oversized_body_is_413_before_auth(post: Callable[..., Any]) -> None:
    response = post({"name": "x" * 2000}, token=None)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "name", "is required"),
        ({"name": 5}, "name", "string"),
        ({"name": "x", "count": "3"}, "count", "integer"),
        ({"name": "x", "admin": True}, "admin", "not a known field"),
        ({"name": "x", "inner": {"size": "big"}}, "inner.size", "integer"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(
    post: Callable[..., Any], body: dict[str, Any], field: str, words: str
) -> None:
    response = post(body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_field"
    assert error["field"] == field
    assert words in error["message"]


def test_empty_body_is_an_empty_object(post: Callable[..., Any]) -> None:
    response = post(data=b"")
    assert response.status_code == 400
    assert error_of(response)["field"] == "name"


def test_preflight_from_allowed_origin(rt: Runtime) -> None:
    response = client_for(echo, rt).options(
        "/",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Origin" in response.headers["Vary"]


def test_other_origins_are_refused_and_get_no_cors_headers(rt: Runtime) -> None:
    client = client_for(echo, rt)
    preflight = client.options(
        "/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    actual = client.post(
        "/",
        json={"name": "x"},
        headers={"Origin": "https://evil.example", "Authorization": "Bearer token-alice"},
    )
    assert actual.status_code == 403
    assert error_of(actual)["code"] == "origin_not_allowed"


def test_allowed_origin_sees_errors_too(post: Callable[..., Any]) -> None:
    response = post({}, headers={"Origin": "http://localhost:3000"})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def _card_error(code: str, decline_code: str | None) -> stripe.CardError:
    error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": "x"}
    return stripe.CardError("x", None, code, json_body={"error": error}, http_status=402)


def _lock_timeout() -> stripe.RateLimitError:
    """As stripe-python raises it: a RateLimitError whose code is only in its body."""
    error = {"type": "invalid_request_error", "code": "lock_timeout", "message": "locked"}
    return stripe.RateLimitError("locked", json_body={"error": error}, http_status=429)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (_card_error("card_declined", "insufficient_funds"), 402, "insufficient_funds"),
        (_card_error("card_declined", "generic_decline"), 402, "card_declined"),
        (_card_error("expired_card", None), 402, "expired_card"),
        (stripe.APIConnectionError("connection reset"), 503, "upstream_unavailable"),
        (stripe.RateLimitError("slow down", http_status=429), 503, "upstream_unavailable"),
        # Another request holds the Stripe object, past the SDK's retries: retry in a moment.
        (_lock_timeout(), 409, "in_progress"),
        (stripe.APIError("oops", http_status=500), 503, "upstream_unavailable"),
        (
            stripe.InvalidRequestError("No such customer", "id", code="resource_missing"),
            404,
            "not_found",
        ),
        (
            stripe.InvalidRequestError("bad", "items", code="parameter_invalid"),
            400,
            "payment_provider_rejected",
        ),
        (stripe.IdempotencyError("keys differ", http_status=400), 409, "idempotency_conflict"),
        (stripe.APIError("request in progress", http_status=409), 409, "in_progress"),
        (
            stripe.InvalidRequestError(
                "No such customer: 'cus_x'", "customer", code="resource_missing"
            ),
            409,
            "customer_missing",
        ),
        (stripe.AuthenticationError("Invalid API Key provided: sk_test_***"), 500, "internal"),
        (google_exceptions.ServiceUnavailable("firestore down"), 503, "upstream_unavailable"),
        (google_exceptions.DeadlineExceeded("slow"), 503, "upstream_unavailable"),
        (Conflict("already", code=ALREADY_SUBSCRIBED), 409, "already_subscribed"),
        (RuntimeError("leaked sk_test_abc and card 4242424242424242"), 500, "internal"),
    ],
)
def test_failures_map_to_one_error_shape(
    rt: Runtime, exc: BaseException, status: int, code: str
) -> None:
    raise_this[:] = [exc]
    response = client_for(boom, rt).post(
        "/", json={}, headers={"Authorization": "Bearer token-alice"}
    )
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code
    text = response.get_data(as_text=True)
    assert "sk_test" not in text
    assert "4242" not in text
    assert "Traceback" not in text
    if status == 503 or code == "in_progress":
        assert response.headers["Retry-After"].isdigit()


def test_logs_are_cloud_logging_json_without_secrets(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    from core import logs

    logs.configure("INFO")
    live_key = "sk_live_" + "123abc"  # assembled so no key-shaped literal is committed
    raise_this[:] = [RuntimeError(f"boom with Bearer token-alice and {live_key}")]
    trace = "0123456789abcdef0123456789abcdef"
    client_for(boom, rt).post(
        "/",
        json={},
        headers={
            "Authorization": "Bearer token-alice",
            "X-Cloud-Trace-Context": f"{trace}/42;o=1",
        },
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines, "expected log lines on stdout"
    final = lines[-1]
    assert final["severity"] == "WARNING"
    assert final["function"] == "boom-op"
    assert final["uid"] == "alice"
    assert final["logging.googleapis.com/trace"] == f"projects/demo-billing/traces/{trace}"
    assert final["logging.googleapis.com/spanId"] == "000000000000002a"  # 42, as 16 hex digits
    assert final["logging.googleapis.com/trace_sampled"] is True
    assert final["httpRequest"]["status"] == 500
    failure = next(line for line in lines if line.get("error"))
    assert failure["severity"] == "ERROR"
    everything = "\n".join(json.dumps(line) for line in lines)
    assert "token-alice" not in everything
    assert live_key not in everything
    assert "Traceback" not in everything


def test_w3c_traceparent_is_used_when_there_is_no_cloud_trace_header(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    from core import logs

    logs.configure("INFO")
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    client_for(echo, rt).post(
        "/",
        json={"name": "x"},
        headers={
            "Authorization": "Bearer token-alice",
            "traceparent": f"00-{trace}-00f067aa0ba902b7-01",
        },
    )
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["logging.googleapis.com/trace"] == f"projects/demo-billing/traces/{trace}"
    assert last["logging.googleapis.com/spanId"] == "00f067aa0ba902b7"
    assert last["logging.googleapis.com/trace_sampled"] is True


def test_deeply_nested_json_is_400_not_500(
    settings: BillingSettings, verifier: FakeVerifier
) -> None:
    verifier.add("alice")
    rt = Runtime(settings.model_copy(update={"max_body_bytes": 16384}), verifier=verifier)
    response = client_for(echo, rt).post(
        "/",
        data=b"[" * 5000 + b"]" * 5000,  # deeper than Python's recursion limit
        content_type="application/json",
        headers={"Authorization": "Bearer token-alice"},
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_json_nesting_is_limited_to_32_levels(
    settings: BillingSettings, verifier: FakeVerifier
) -> None:
    # The limit itself, pinned: 32 nested objects and arrays are parsed (and then judged by the
    # model), a 33rd is refused as malformed JSON before any model sees it.
    verifier.add("alice")
    client = client_for(echo, Runtime(settings, verifier=verifier))

    def post(levels: int) -> Any:
        inner = "[" * (levels - 1) + "]" * (levels - 1)  # the body object is the first level
        return client.post(
            "/",
            data=f'{{"name": "x", "extra": {inner}}}'.encode(),
            content_type="application/json",
            headers={"Authorization": "Bearer token-alice"},
        )

    parsed = post(32)
    assert parsed.status_code == 400
    assert error_of(parsed)["code"] != "malformed_json"
    assert error_of(parsed)["field"] == "extra"  # the model's verdict on an unknown field
    refused = post(33)
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "malformed_json"
    assert "nested more than 32 levels" in error_of(refused)["message"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"name": ' + b"7" * 5000 + b"}", "longer than 64"),  # a known field
        (b'{"name": "x", "extra": ' + b"7" * 5000 + b"}", "longer than 64"),  # an unknown one
        (b'{"name": "\\ud800"}', "lone surrogate"),
        (b'{"name": "x", "count": NaN}', "NaN"),
        (b'{"name": "x", "count": 1e400}', "out of range"),
    ],
)
def test_hostile_json_is_400_malformed_json(
    settings: BillingSettings, verifier: FakeVerifier, raw: bytes, reason: str
) -> None:
    verifier.add("alice")
    rt = Runtime(settings.model_copy(update={"max_body_bytes": 16384}), verifier=verifier)
    response = client_for(echo, rt).post(
        "/",
        data=raw,
        content_type="application/json",
        headers={"Authorization": "Bearer token-alice"},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_json"
    assert reason in error["message"]
