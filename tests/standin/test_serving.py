"""The stand-in keeps connections open between requests, as Stripe's API does."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import urllib.parse
from typing import Any

import pytest
from werkzeug.serving import make_server

from devstack.stripe_standin.serving import KeepAliveRequestHandler
from tests.standin.conftest import StandinServer
from tests.support.stack import PATIENCE_S

AUTH = {"Authorization": "Bearer sk_test_standin"}
FORM = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def connection(standin_server: StandinServer) -> http.client.HTTPConnection:
    address = urllib.parse.urlsplit(standin_server.url)
    return http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)


def _call(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    connection.request(method, path, body=body, headers=headers or AUTH)
    response = connection.getresponse()
    response.read()
    return response


def test_one_connection_carries_many_requests(connection: http.client.HTTPConnection) -> None:
    created = _call(connection, "POST", "/v1/customers", "email=a%40example.com", FORM)
    assert created.status == 200
    assert created.getheader("Connection") is None
    assert connection.sock is not None
    first = connection.sock.getsockname()
    # A body the app never reads (an unknown route) must not spill into the next request.
    assert _call(connection, "POST", "/v1/no_such_thing", "x=" + "y" * 5000, FORM).status == 404
    listed = _call(connection, "GET", "/v1/customers?limit=1")
    assert listed.status == 200
    assert connection.sock is not None
    assert connection.sock.getsockname() == first


def test_a_client_that_asks_to_close_is_answered_and_closed(
    connection: http.client.HTTPConnection,
) -> None:
    response = _call(connection, "GET", "/v1/customers", headers={**AUTH, "Connection": "close"})
    assert response.status == 200
    assert response.getheader("Connection") == "close"
    assert connection.sock is None  # http.client closed it, as the server said it would


def test_a_request_dropped_without_an_answer_is_logged_with_its_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """werkzeug ends a request silently when the app raises a ``TimeoutError`` (or a socket
    error): the client reads no answer at all. A kept connection is closed then, so the client
    learns it at once (not after the minute the idle timeout waits: before, this call hung
    until then), and the stand-in names the request and the cause, so a test that meets
    ``RemoteDisconnected`` shows why in its captured log."""

    def app(environ: object, start_response: object) -> list[bytes]:
        raise TimeoutError("an upstream wait ran out")

    class Patient(KeepAliveRequestHandler):
        timeout = int(10 * PATIENCE_S)  # an idle close can never be what the client meets here

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Patient)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=PATIENCE_S)
        with caplog.at_level(logging.DEBUG, logger="devstack.stripe_standin.serving"):
            with pytest.raises(http.client.RemoteDisconnected):
                _call(connection, "POST", "/v1/customers", "email=a%40example.com", FORM)
            connection.close()
            # The warning is written by the server's thread just before it closes the socket.
            deadline = time.monotonic() + PATIENCE_S
            while not [r for r in caplog.records if r.levelno >= logging.WARNING]:
                assert time.monotonic() < deadline, "no warning for the dropped request"
                time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "POST /v1/customers HTTP/1.1" in warning.getMessage()
    assert "an upstream wait ran out" in warning.getMessage()


def test_answers_leave_without_waiting_for_the_clients_acknowledgement() -> None:
    # Nagle's algorithm would hold a response's body until the client acknowledged its headers
    # (werkzeug sends them apart), and a client delays that acknowledgement: ~40 ms per answer
    # on a kept connection, which no client of Stripe's API waits for. The stand-in turns it off.
    seen: list[int] = []

    class Probe(KeepAliveRequestHandler):
        def setup(self) -> None:
            super().setup()
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def app(environ: object, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=PATIENCE_S)
        for _ in range(2):
            assert _call(connection, "GET", "/").status == 200
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert seen == [1]  # one connection for both requests, with TCP_NODELAY set
