"""Request bodies, read so that the client decides neither how much memory nor how much time.

Three things would otherwise let a client tie up an instance (functions-framework 3.10 on
gunicorn's threaded worker, locally and on Cloud Run alike):

- functions-framework reads the *whole* body after every response (an ``after_request``
  calling ``request.get_data()``, to avoid resetting connections), into memory, with no
  deadline: a refused 64 MiB body was still read in full, and a ``Content-Length`` larger
  than what is sent held a worker thread forever.
- gunicorn drains an unread body before reusing a kept-alive connection, and lingers while
  closing one; a silent client makes each wait.
- A body that arrives slowly blocks its thread in ``recv`` with no timeout at all.

So a body is read with a deadline (when it passes, the socket's read side is shut, which
wakes a blocked ``recv``), only up to the limit, and a body the function did not read to its end is
*abandoned*: the request's stream is replaced by an empty one (functions-framework then reads
nothing) and the read side of the connection is shut, so gunicorn sees the end of the input
at once and closes the connection instead of draining it.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import socket
import threading
import time
from collections.abc import Callable

import flask

from billing.errors import INCOMPLETE_BODY, BadRequest, PayloadTooLarge, RequestTimeout

# Where WSGI servers put the client's socket: gunicorn, and werkzeug's development server.
_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")
# Set in the WSGI environ once the body has been read to its end.
_READ_TO_END = "billing.body_read_to_end"


def _socket(request: flask.Request) -> socket.socket | None:
    for key in _SOCKET_KEYS:
        sock = request.environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def _stop_reading(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)


class _Deadline:
    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False


class Watchdog:
    """Runs an action when its deadline passes unless cancelled first: one daemon thread per
    instance for every request's body deadline.

    A ``threading.Timer`` per request started an OS thread for each body and woke it again
    to cancel it; that was most of the body read's CPU (docs/performance.md). Here arming a
    deadline is a heap push, and cancelling it a flag: the thread skips cancelled deadlines
    when it wakes, and it is woken early only for a deadline sooner than the one it sleeps
    towards.

    Cancelling takes the lock the thread holds while it runs an action, so once ``cancel``
    returns the action never runs. Were the flag read once and the action run later, a
    deadline that came due as its body ended could still shut the read side of a kept-alive
    connection, under the *next* request on it (a complete body answered 400). An action
    must therefore be quick and never block (shutting a socket's read side is)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # the tests' own clock: deadlines that pass only when told
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._wake_at = float("inf")  # what the thread sleeps towards (inf: no deadline)
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, action: Callable[[], None]) -> _Deadline:
        deadline = _Deadline(action)
        at = self._clock() + seconds
        with self._cond:
            heapq.heappush(self._heap, (at, next(self._order), deadline))
            # Per process: started after gunicorn forks its worker (it handles requests; the
            # master never does), and again should it ever have ended: a watchdog without its
            # thread would let every stalled body hold a worker thread for good.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="billing-body-deadlines", daemon=True
                )
                self._thread.start()
            elif at < self._wake_at:
                self._cond.notify()
        return deadline

    def cancel(self, deadline: _Deadline) -> None:
        with self._cond:  # not while its action runs: after this, it never does
            deadline.cancelled = True

    def _run(self) -> None:
        with self._cond:  # released only while waiting
            while True:
                now = self._clock()
                if self._heap and (self._heap[0][2].cancelled or self._heap[0][0] <= now):
                    _, _, deadline = heapq.heappop(self._heap)
                    if not deadline.cancelled:
                        with contextlib.suppress(Exception):  # one failed action stops no other
                            deadline.action()
                    continue
                self._wake_at = self._heap[0][0] if self._heap else float("inf")
                self._cond.wait(None if not self._heap else self._wake_at - now)


_watchdog = Watchdog()


def has_body(request: flask.Request) -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def abandon_unread(request: flask.Request) -> None:
    """Called once the answer is decided: gives up any part of the body nobody read."""
    if request.environ.get(_READ_TO_END) or not has_body(request):
        return
    # werkzeug's cached ``stream`` may be set; functions-framework's get_data() reads this one.
    request.stream = io.BytesIO()
    _stop_reading(_socket(request))
    # The shut read side alone is not enough for gunicorn: when none of the body has arrived
    # yet, its drain before keeping the connection reads an end at once, calls the body done
    # and keeps the connection; the body then arrives and the next parse drains all of it,
    # without a cap (a fresh clone's CI watched a refused 64 MiB body read to its end, 4 s of
    # a worker thread). gunicorn closes, undrained, a connection whose body it marks failed
    # ("where the next request starts is unknown"): so it is, the body having been abandoned.
    body = request.environ.get("wsgi.input")
    if body is not None and hasattr(body, "failed"):
        body.failed = True


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {limit} bytes.")


def read_body(request: flask.Request, limit: int, *, timeout: float) -> bytes:
    """The body, at most ``limit`` bytes, arrived within ``timeout`` seconds; else 413/408/400."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit)  # refused unread; see abandon_unread
    if not has_body(request):
        request.environ[_READ_TO_END] = True
        return b""
    sock = _socket(request)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _stop_reading(sock)

    timer = _watchdog.arm(timeout, expire)
    chunks: list[bytes] = []
    size = 0
    try:
        # One read may return less than asked (a body sent in pieces); read until the end.
        while size <= limit:
            chunk = request.stream.read(limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception:  # noqa: BLE001 - whatever the server's stream raises, the body is broken
        broken = True
    else:
        broken = declared is not None and size < declared
    finally:
        _watchdog.cancel(timer)
    if broken and expired.is_set():
        raise RequestTimeout(f"The request body did not arrive within {timeout:g} seconds.")
    if size > limit:  # a chunked body, whose length nobody declared
        raise _too_large(limit)
    if broken:
        raise BadRequest(
            "The request body ended before its Content-Length, or its chunked encoding is "
            "malformed.",
            code=INCOMPLETE_BODY,
        )
    request.environ[_READ_TO_END] = True
    return b"".join(chunks)
