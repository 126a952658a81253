"""The stand-in keeps connections open between requests, as Stripe's API does."""

from __future__ import annotations

import http.client
import urllib.parse

import pytest

from tests.standin.conftest import StandinServer

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
