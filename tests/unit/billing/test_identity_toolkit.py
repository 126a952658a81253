"""What each answer of Identity Toolkit means for the webhook: retry, skip, or stop; and what
the urllib3 transport sends (the timeout, the claims' JSON, who it says it is)."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import pytest
import urllib3

from billing.errors import UpstreamUnavailable
from billing.identity_toolkit import ClaimsRefused, IdentityToolkit

TOKEN = "ya29.the-credentials-token"


class FakeAnswer:
    """What urllib3's ``request`` answers (a preloaded HTTPResponse): status and body bytes."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.data = body if isinstance(body, bytes) else json.dumps(body).encode()


class FakeHttp:
    """A urllib3 pool's ``urlopen``/``request``: records each call, answers or raises."""

    def __init__(self, *answers: FakeAnswer | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeAnswer:
        return self.urlopen(method, url, **kwargs)

    def urlopen(self, method: str, url: str, **kwargs: Any) -> FakeAnswer:
        self.calls.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeCredentials(google.auth.credentials.Credentials):
    """A service account's credentials: a token, a new one at each refresh (or a failure)."""

    def __init__(self, refresh_error: Exception | None = None) -> None:
        super().__init__()
        self.refreshes = 0
        self.refresh_error = refresh_error

    def refresh(self, request: Any) -> None:
        if self.refresh_error is not None:
            raise self.refresh_error
        self.refreshes += 1
        self.token = f"{TOKEN}-{self.refreshes}"


def toolkit(answer: FakeAnswer | Exception, *, emulator: str | None = None) -> IdentityToolkit:
    return IdentityToolkit(
        "demo-billing",
        emulator_host=emulator,
        timeout=2,
        http=FakeHttp(answer),
        credentials=FakeCredentials(),
    )


def _error(message: str) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message}}


@pytest.mark.parametrize(
    "answer",
    [
        urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        urllib3.exceptions.ConnectTimeoutError("slow to connect"),
        urllib3.exceptions.ReadTimeoutError(None, "/", "slow"),  # type: ignore[arg-type]
        urllib3.exceptions.ProtocolError("reset"),
        google.auth.exceptions.TransportError("metadata server unreachable"),
        FakeAnswer(503, {}),
        FakeAnswer(500, _error("INTERNAL")),
        FakeAnswer(429, _error("QUOTA_EXCEEDED")),
        FakeAnswer(502, b"<html>not json</html>"),
    ],
)
@pytest.mark.parametrize("emulator", [None, "127.0.0.1:9099"])
def test_an_unreachable_or_overloaded_auth_is_503_so_stripe_retries(
    answer: Any, emulator: str | None
) -> None:
    with pytest.raises(UpstreamUnavailable):
        toolkit(answer, emulator=emulator).set_custom_claims("u1", {"billing": None})
    with pytest.raises(UpstreamUnavailable):
        toolkit(answer, emulator=emulator).custom_claims("u1")


def test_a_missing_user_is_not_an_error() -> None:
    assert toolkit(FakeAnswer(400, _error("USER_NOT_FOUND"))).set_custom_claims("u1", {}) is False
    assert toolkit(FakeAnswer(200, {"kind": "x"})).custom_claims("u1") is None
    assert toolkit(FakeAnswer(200, {"users": []})).custom_claims("u1") is None


@pytest.mark.parametrize("message", ["CLAIMS_TOO_LARGE", "PERMISSION_DENIED", "INVALID_CLAIMS"])
def test_any_other_refusal_is_named(message: str) -> None:
    with pytest.raises(ClaimsRefused, match=message):
        toolkit(FakeAnswer(400, _error(message))).set_custom_claims("u1", {})
    with pytest.raises(ClaimsRefused, match=message):
        toolkit(FakeAnswer(403, _error(message))).custom_claims("u1")


def test_claims_are_sent_as_the_json_string_identity_toolkit_takes() -> None:
    http = FakeHttp(FakeAnswer(200, {}))
    users = IdentityToolkit("p1", emulator_host="127.0.0.1:9099", timeout=2, http=http)
    assert users.set_custom_claims("u1", {"billing": {"active": True}}) is True
    [call] = http.calls
    assert call["method"] == "POST"
    assert (
        call["url"]
        == "http://127.0.0.1:9099/identitytoolkit.googleapis.com/v1/projects/p1/accounts:update"
    )
    assert json.loads(call["body"]) == {
        "localId": "u1",
        "customAttributes": '{"billing":{"active":true}}',
    }
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["Authorization"] == "Bearer owner"  # the emulator's admin
    assert call["retries"] is False


def test_the_timeout_is_the_setting_for_connecting_and_for_reading() -> None:
    http = FakeHttp(FakeAnswer(200, {"users": []}))
    users = IdentityToolkit(
        "p1", emulator_host=None, timeout=2.5, http=http, credentials=FakeCredentials()
    )
    users.custom_claims("u1")
    timeout = http.calls[-1]["timeout"]
    assert isinstance(timeout, urllib3.Timeout)
    assert (timeout.connect_timeout, timeout.read_timeout) == (2.5, 2.5)


def test_production_sends_the_credentials_token_and_refreshes_it_on_a_401() -> None:
    http = FakeHttp(FakeAnswer(401, _error("UNAUTHENTICATED")), FakeAnswer(200, {"users": []}))
    credentials = FakeCredentials()
    users = IdentityToolkit("p1", emulator_host=None, timeout=2, http=http, credentials=credentials)
    assert users.custom_claims("u1") is None
    first, second = http.calls
    assert first["url"] == ("https://identitytoolkit.googleapis.com/v1/projects/p1/accounts:lookup")
    assert first["headers"]["authorization"] == f"Bearer {TOKEN}-1"
    assert second["headers"]["authorization"] == f"Bearer {TOKEN}-2"  # refreshed, sent again
    assert credentials.refreshes == 2
    assert json.loads(first["body"]) == {"localId": ["u1"]}


def _unreachable_metadata_server() -> google.auth.exceptions.RefreshError:
    """google-auth's refresh error when the metadata server is out of reach: a transport error
    as its cause, not marked retryable."""
    try:
        raise google.auth.exceptions.TransportError("metadata.google.internal unreachable")
    except google.auth.exceptions.TransportError as cause:
        error = google.auth.exceptions.RefreshError("Failed to retrieve the token")
        error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (google.auth.exceptions.RefreshError("try later", retryable=True), UpstreamUnavailable),
        (_unreachable_metadata_server(), UpstreamUnavailable),
        (google.auth.exceptions.RefreshError("invalid_grant"), ClaimsRefused),
    ],
    ids=["retryable", "metadata-server-out-of-reach", "refused"],
)
def test_a_token_that_cannot_be_had_is_unavailable_only_when_retrying_can_help(
    error: Exception, raised: type[Exception]
) -> None:
    users = IdentityToolkit(
        "p1",
        emulator_host=None,
        timeout=2,
        http=FakeHttp(FakeAnswer(200, {})),
        credentials=FakeCredentials(refresh_error=error),
    )
    with pytest.raises(raised):
        users.custom_claims("u1")


def test_no_token_or_header_reaches_a_log_line_or_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # urllib3's errors can quote what they were given; this one quotes the token outright.
    failure = urllib3.exceptions.ProtocolError(f"broken with Authorization: Bearer {TOKEN}-1")
    users = IdentityToolkit(
        "p1", emulator_host=None, timeout=2, http=FakeHttp(failure), credentials=FakeCredentials()
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpstreamUnavailable) as raised:
        users.custom_claims("u1")
    assert TOKEN not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    assert TOKEN not in caplog.text
    assert "ProtocolError" in caplog.text  # the failure is still named


def test_the_users_claims_are_read_from_the_lookup() -> None:
    answer = {"users": [{"localId": "u1", "customAttributes": json.dumps({"role": "admin"})}]}
    assert toolkit(FakeAnswer(200, answer)).custom_claims("u1") == {"role": "admin"}
    assert toolkit(FakeAnswer(200, {"users": [{"localId": "u1"}]})).custom_claims("u1") == {}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections and never answers (the kernel's backlog accepts them)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_real_read_timeout_and_a_refused_connection_are_503(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    slow = IdentityToolkit("p1", emulator_host=f"127.0.0.1:{silent_port}", timeout=0.2)
    with pytest.raises(UpstreamUnavailable):
        slow.custom_claims("u1")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        refused = IdentityToolkit("p1", emulator_host=f"127.0.0.1:{port}", timeout=5)
        with pytest.raises(UpstreamUnavailable):
            refused.custom_claims("u1")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records each request line; answers ``ANSWER`` (a token) or refuses (a proxy)."""

    ANSWER: bytes | None = None
    seen: list[str]

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        status, body = (200, self.ANSWER) if self.ANSWER is not None else (502, b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_CONNECT = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serving(answer: bytes | None) -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"ANSWER": answer, "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class MetadataCredentials(google.auth.credentials.Credentials):
    """A function's credentials: the token is fetched over plain http from the metadata
    server (here a local one), through the transport google-auth hands ``refresh``."""

    def __init__(self, token_url: str) -> None:
        super().__init__()
        self.token_url = token_url

    def refresh(self, request: Any) -> None:
        answer = request(url=self.token_url, method="GET", timeout=5)
        self.token = json.loads(answer.data)["access_token"]


def test_the_token_refresh_never_goes_through_the_apis_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY is for Identity Toolkit's https calls; the metadata server's token (plain
    http) goes direct, as requests sent it: an https proxy would get the token in clear, or
    could not reach the metadata server at all and every event would fail."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    token = json.dumps({"access_token": TOKEN, "expires_in": 3600}).encode()
    with (
        _serving(token) as (metadata_port, metadata_saw),
        _serving(None) as (proxy_port, proxy_saw),
    ):
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        users = IdentityToolkit(
            "p1",
            emulator_host=None,
            timeout=5,
            credentials=MetadataCredentials(f"http://127.0.0.1:{metadata_port}/token"),
        )
        with pytest.raises(UpstreamUnavailable):  # the proxy refuses the tunnel: 503
            users.custom_claims("u1")
    assert metadata_saw == ["GET /token"]  # the token, fetched direct
    assert proxy_saw == ["CONNECT identitytoolkit.googleapis.com:443"]  # the API, proxied
