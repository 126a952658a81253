"""Request bodies are read within a size and a time limit, and never read after the answer."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable

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


def test_an_abandoned_body_makes_gunicorn_close_the_connection_not_drain_it() -> None:
    # gunicorn drains an unread body before keeping a connection; with the read side shut and
    # nothing arrived yet, that drain reads an end, keeps the connection, and the next parse
    # reads the whole body as it comes (uncapped). A body gunicorn marks failed is not
    # drained: the connection is closed.
    from gunicorn.http.body import Body, LengthReader  # type: ignore[import-untyped]
    from gunicorn.http.unreader import IterUnreader  # type: ignore[import-untyped]

    sent = Body(LengthReader(IterUnreader([b'{"a": 1}']), 8))
    request = _request(b"", **{"wsgi.input": sent, "CONTENT_LENGTH": "8"})
    abandon_unread(request)
    assert sent.failed is True
    assert request.get_data() == b""


class Clock:
    """A monotonic clock that moves only when told: no deadline passes because the machine is
    slow, whatever its load."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_the_watchdog_runs_a_deadline_that_passes_and_never_a_cancelled_one() -> None:
    clock = Clock()
    watchdog = Watchdog(clock)
    fired: list[str] = []
    done = threading.Event()
    far = watchdog.arm(600, lambda: fired.append("far"))
    _until(lambda: watchdog._wake_at == clock.now + 600, "the thread never went to sleep")
    # Armed after a later one: the thread, asleep until the far deadline, must be woken.
    cancelled = watchdog.arm(0.05, lambda: fired.append("cancelled"))

    def sooner() -> None:
        fired.append("sooner")
        done.set()

    watchdog.arm(0.1, sooner)
    watchdog.cancel(cancelled)
    clock.now += 1  # both pass now, and only now
    assert done.wait(30), "a deadline that passed did not run"
    assert fired == ["sooner"]
    watchdog.cancel(far)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # meant
def test_a_watchdog_whose_thread_ended_starts_another_for_the_next_deadline() -> None:
    clock = Clock()
    watchdog = Watchdog(clock)

    def end_the_thread() -> None:
        raise SystemExit  # what no `except Exception` stops

    watchdog.arm(0.01, end_the_thread)
    clock.now += 1
    _until(lambda: watchdog._thread is not None and not watchdog._thread.is_alive(), "ended")
    passed = threading.Event()
    watchdog.arm(0.01, passed.set)
    clock.now += 1
    assert passed.wait(30), "no thread ran the deadline armed after the first one ended"


def test_once_cancel_returns_the_deadline_never_runs() -> None:
    # A deadline can come due as its body ends: by the time the body's reader cancels it, the
    # thread may be running another due action. Its own must not run after the cancel
    # returned: it would shut the read side under the next request on the connection.
    clock = Clock()
    watchdog = Watchdog(clock)
    events: list[str] = []
    running, release = threading.Event(), threading.Event()

    def first() -> None:
        running.set()
        release.wait(30)

    watchdog.arm(0.01, first)
    second = watchdog.arm(0.02, lambda: events.append("second ran"))
    clock.now += 1  # both due in one pass
    assert running.wait(30)

    def cancel() -> None:
        watchdog.cancel(second)
        events.append("cancel returned")

    canceller = threading.Thread(target=cancel)
    canceller.start()
    canceller.join(0.5)  # a bare flag returns at once; the fix waits for the running action
    release.set()
    canceller.join(30)
    passed = threading.Event()
    watchdog.arm(0, passed.set)  # the thread is past both
    assert passed.wait(30)
    assert events in (["second ran", "cancel returned"], ["cancel returned"])


def test_a_body_read_in_time_leaves_its_connection_open(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    watchdog = Watchdog(clock)
    monkeypatch.setattr(body, "_watchdog", watchdog)
    server_end, client_end = socket.socketpair()
    try:
        before = threading.active_count()
        for _ in range(20):
            request = _request(b'{"a": 1}', **{"gunicorn.socket": server_end})
            assert read_body(request, LIMIT, timeout=0.05) == b'{"a": 1}'
        # One watchdog thread at most, however many bodies are read (a thread per body before).
        assert threading.active_count() <= before + 1
        passed = threading.Event()
        watchdog.arm(0.1, passed.set)  # due after every deadline of the reads above
        clock.now += 1
        assert passed.wait(30)
        # Had a deadline of a body read in time run, it would have shut this read side.
        client_end.sendall(b"next request")
        server_end.settimeout(30)
        assert server_end.recv(64) == b"next request"
    finally:
        server_end.close()
        client_end.close()
