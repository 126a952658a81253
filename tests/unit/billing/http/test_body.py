"""Request bodies are read within a size and a time limit, and never read after the answer."""

from __future__ import annotations

import io
import socket
import threading

import flask
import pytest

from billing.errors import BadRequest, PayloadTooLarge
from billing.http import body
from billing.http.body import Watchdog, abandon_unread, read_body

LIMIT = 64


def _request(body: bytes, **environ: object) -> flask.Request:
    """A request as a WSGI server hands it over: ``wsgi.input`` holds the bytes sent."""
    base: dict[str, object] = {
        "REQUEST_METHOD": "POST",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
    }
    return flask.Request(base | environ)


def test_a_body_within_the_limit_is_read_whole() -> None:
    request = _request(b'{"a": 1}')
    assert read_body(request, LIMIT, timeout=5) == b'{"a": 1}'
    abandon_unread(request)  # read to the end: nothing to give up
    assert request.get_data() == b""


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    source = io.BytesIO(b"x" * 1000)
    request = _request(b"", **{"wsgi.input": source, "CONTENT_LENGTH": "1000"})
    with pytest.raises(PayloadTooLarge):
        read_body(request, LIMIT, timeout=5)
    abandon_unread(request)
    # What functions-framework does after every response: it must find nothing left to read.
    assert request.get_data() == b""
    assert source.tell() == 0


def test_a_body_shorter_than_its_content_length_is_400() -> None:
    request = _request(b'{"a"', CONTENT_LENGTH="40")
    with pytest.raises(BadRequest) as caught:
        read_body(request, LIMIT, timeout=5)
    assert caught.value.code == "incomplete_body"


def test_a_chunked_body_over_the_limit_is_413() -> None:
    # No Content-Length: the server de-chunks and ends the stream (wsgi.input_terminated).
    request = _request(
        b"x" * 1000,
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input_terminated": True},
    )
    with pytest.raises(PayloadTooLarge):
        read_body(request, LIMIT, timeout=5)


def test_an_unread_body_is_abandoned_whatever_the_answer() -> None:
    source = io.BytesIO(b'{"a": 1}')
    request = _request(b"", **{"wsgi.input": source, "CONTENT_LENGTH": "8"})
    abandon_unread(request)  # say a 405, answered before anyone read the body
    assert request.get_data() == b""
    assert source.tell() == 0


def test_the_watchdog_runs_a_deadline_that_passes_and_never_a_cancelled_one() -> None:
    watchdog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    far = watchdog.arm(600, lambda: fired.append("far"))
    cancelled = watchdog.arm(0.05, lambda: fired.append("cancelled"))
    # Armed after a later one: the thread, asleep until the far deadline, must be woken.

    def sooner() -> None:
        fired.append("sooner")
        done.set()

    watchdog.arm(0.1, sooner)
    watchdog.cancel(cancelled)
    assert done.wait(30), "a deadline that passed did not run in time"
    assert fired == ["sooner"]
    watchdog.cancel(far)


def test_a_body_read_in_time_leaves_its_connection_open() -> None:
    server_end, client_end = socket.socketpair()
    try:
        before = threading.active_count()
        for _ in range(20):
            request = _request(b'{"a": 1}', **{"gunicorn.socket": server_end})
            assert read_body(request, LIMIT, timeout=0.05) == b'{"a": 1}'
        # One watchdog thread at most, however many bodies are read (a thread per body before).
        assert threading.active_count() <= before + 1
        passed = threading.Event()
        body._watchdog.arm(0.1, passed.set)  # due after every deadline of the reads above
        assert passed.wait(30)
        # Had a deadline of a body read in time run, it would have shut this read side.
        client_end.sendall(b"next request")
        server_end.settimeout(30)
        assert server_end.recv(64) == b"next request"
    finally:
        server_end.close()
        client_end.close()
