"""The body limit bounds memory and time, over raw HTTP/1.1 against the real server.

A declared length over the limit is refused unread and the connection closed (not drained);
a short or stalled body is given up on; stalled connections do not starve legitimate calls.
Memory is measured by ``benchmarks/body_limits.py``, not asserted here.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from devstack.stack import Stack, StackInfo
from tests.support.stack_fixtures import User, extra_function

pytestmark = pytest.mark.integration

LIMIT = 16_384  # MAX_BODY_BYTES in .env.example
# Long enough for a loaded machine to answer; a connection left to drain (or a response
# never sent) would outlast it by far: gunicorn lingers seconds, functions-framework forever.
PATIENCE = 8.0


@dataclass
class Reply:
    status: int
    head: str
    body: bytes
    closed: bool  # the server closed the connection after answering


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    return socket.create_connection((parts.hostname, parts.port), timeout=PATIENCE)


def _request(method: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} / HTTP/1.1", "Host: localhost", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_reply(sock: socket.socket, wait_for_close: float = PATIENCE) -> Reply:
    """One response; then whether the server closes the connection without more from us."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    fields = dict(line.partition(": ")[::2] for line in text.split("\r\n")[1:])
    length = int({k.lower(): v for k, v in fields.items()}["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    sock.settimeout(wait_for_close)
    try:
        closed = sock.recv(1) == b""
    except ConnectionResetError:  # closed with unread bytes from us: Linux sends a reset
        closed = True
    except TimeoutError:
        closed = False
    return Reply(int(text.split(" ", 2)[1]), text, body, closed)


def _json_headers(length: int | str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Content-Length": str(length)}


def test_a_declared_length_over_the_limit_is_413_unread_and_the_connection_closed(
    stack: StackInfo,
) -> None:
    with _connect(stack.function_url("create-customer")) as sock:
        sock.sendall(_request("POST", _json_headers(999_999_999), b"{}"))
        reply = _read_reply(sock)
    assert reply.status == 413
    assert b'"payload_too_large"' in reply.body
    assert reply.closed


def test_a_64_mib_body_is_refused_and_not_read(stack: StackInfo) -> None:
    size = 64 * 1024 * 1024
    sent = 0
    with _connect(stack.function_url("create-customer")) as sock:
        sock.sendall(_request("POST", _json_headers(size)))
        chunk = b" " * 65536
        try:
            while sent < size:
                sent += sock.send(chunk)
        except OSError:
            pass  # the server stopped reading and closed: what is being tested
        reply = _read_reply(sock)
    assert reply.status == 413
    assert reply.closed
    # A socket buffer's worth got through, not the body.
    assert sent < size // 4, sent


def test_a_body_for_a_wrong_method_is_not_read_either(stack: StackInfo) -> None:
    with _connect(stack.function_url("create-customer")) as sock:
        sock.sendall(_request("GET", _json_headers(999_999_999), b"{}"))
        reply = _read_reply(sock)
    assert reply.status == 405
    assert reply.closed


def test_a_chunked_body_over_the_limit_is_413(stack: StackInfo) -> None:
    piece = b"x" * 4096
    chunked = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") * 8 + b"0\r\n\r\n"
    with _connect(stack.function_url("create-customer")) as sock:
        headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        sock.sendall(_request("POST", headers, chunked))
        reply = _read_reply(sock)
    assert reply.status == 413


def test_a_body_shorter_than_declared_is_400(stack: StackInfo) -> None:
    with _connect(stack.function_url("create-customer")) as sock:
        sock.sendall(_request("POST", _json_headers(100), b'{"name": "x"'))
        sock.shutdown(socket.SHUT_WR)  # the client is done sending, still listening
        reply = _read_reply(sock)
    assert reply.status == 400
    assert b'"incomplete_body"' in reply.body


def test_complete_bodies_keep_the_connection_alive(stack: StackInfo, user: User) -> None:
    body = b'{"name": "Kept Alive"}'
    headers = _json_headers(len(body)) | {"Authorization": f"Bearer {user.token}"}
    with _connect(stack.function_url("create-customer")) as sock:
        sock.sendall(_request("POST", headers, body))
        first = _read_reply(sock, wait_for_close=0.5)  # kept alive: no close to wait for
        sock.settimeout(PATIENCE)
        sock.sendall(_request("POST", headers, body))
        second = _read_reply(sock, wait_for_close=0.5)
    assert (first.status, second.status) == (200, 200)
    assert not first.closed


@pytest.fixture(scope="module")
def impatient_url(running_stack: Stack) -> Iterator[str]:
    with extra_function(running_stack, "create_customer", {"BODY_TIMEOUT_SECONDS": "1"}) as url:
        yield url


def test_a_stalled_body_within_the_limit_is_408_and_closed(impatient_url: str) -> None:
    with _connect(impatient_url) as sock:
        sock.sendall(_request("POST", _json_headers(100), b'{"na'))
        reply = _read_reply(sock)  # within PATIENCE, or TimeoutError
    assert reply.status == 408
    assert b'"request_timeout"' in reply.body
    assert reply.closed


def test_a_trickled_body_is_cut_off_by_the_deadline_not_by_each_read(impatient_url: str) -> None:
    # One byte every 0.3 s never leaves a read idle for a whole second; the deadline still ends it.
    with _connect(impatient_url) as sock:
        sock.sendall(_request("POST", _json_headers(100)))
        sock.settimeout(0.3)
        for _ in range(int(PATIENCE / 0.3)):
            try:
                sock.sendall(b" ")
            except OSError:
                break
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
        sock.settimeout(PATIENCE)
        reply = _read_reply(sock)
    assert reply.status == 408


def test_a_legitimate_call_is_served_while_12_stalled_connections_are_open(
    stack: StackInfo, user: User
) -> None:
    url = stack.function_url("create-customer")
    with ExitStack() as open_connections:
        stalled = [open_connections.enter_context(_connect(url)) for _ in range(12)]
        for sock in stalled:
            sock.sendall(_request("POST", _json_headers(999_999_999), b"{}"))
        # Every thread the worker has (8 on two cores) would be stuck if these held one.
        response = requests.post(
            url,
            json={"name": "Patient"},
            headers={"Authorization": f"Bearer {user.token}"},
            timeout=PATIENCE,
        )
        assert response.status_code == 200, response.text
        replies = [_read_reply(sock) for sock in stalled]
    assert [reply.status for reply in replies] == [413] * 12
    assert all(reply.closed for reply in replies)
