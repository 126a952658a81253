"""TCP proxies that time the upstream calls passing through them, for the overhead figures.

Our own overhead is a request's latency minus the time it spent waiting on Stripe and
Firestore. Neither client library reports that time, so it is read on the wire, between the
functions and the upstream: a call is busy from its first request byte to its last response
byte. :func:`busy` is the union of those intervals within a window, across both proxies, so
calls made concurrently (two Stripe reads at once, or a Stripe read beside a Firestore read)
are not counted twice. The proxy's own hop (a Python thread copying bytes) falls
on the functions' side of the line: it is counted as our overhead, never as upstream time.

- ``http1`` (Stripe over HTTP/1.1 keep-alive): an exchange starts with the client's first
  bytes after the server last answered, and ends with the server's last bytes before the
  client speaks again.
- ``h2`` (Firestore's gRPC over cleartext HTTP/2): a call starts with the client's HEADERS
  frame on a new stream and ends with the server's frame carrying END_STREAM on it.

Times are ``time.perf_counter()`` (CLOCK_MONOTONIC), comparable across processes on Linux.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Literal

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, DATA = 0x1, 0x0
END_STREAM = 0x1

Mode = Literal["http1", "h2"]


class _Frames:
    """Splits one direction of an HTTP/2 connection into frames."""

    def __init__(self, preface: bool) -> None:
        self._buffer = b""
        self._preface = preface

    def feed(self, data: bytes) -> list[tuple[int, int, int]]:
        """(type, flags, stream id) of every complete frame in ``data``."""
        self._buffer += data
        if self._preface:
            if len(self._buffer) < len(PREFACE):
                return []
            self._buffer = self._buffer[len(PREFACE) :]
            self._preface = False
        frames = []
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            if len(self._buffer) < 9 + length:
                break
            (stream,) = struct.unpack(">I", self._buffer[5:9])
            frames.append((self._buffer[3], self._buffer[4], stream & 0x7FFFFFFF))
            self._buffer = self._buffer[9 + length :]
        return frames


class _Connection:
    def __init__(self, proxy: TimingProxy) -> None:
        self.proxy = proxy
        self.client_frames = _Frames(preface=True)
        self.server_frames = _Frames(preface=False)
        self.open_streams: dict[int, float] = {}
        self.exchange_start: float | None = None
        self.last_answer: float | None = None

    def from_client(self, data: bytes, now: float) -> None:
        if self.proxy.mode == "http1":
            if self.exchange_start is not None and self.last_answer is not None:
                self.proxy.record(self.exchange_start, self.last_answer)
                self.exchange_start = self.last_answer = None
            if self.exchange_start is None:
                self.exchange_start = now
                self.proxy.count()
            return
        for kind, _flags, stream in self.client_frames.feed(data):
            if kind == HEADERS and stream % 2 == 1 and stream not in self.open_streams:
                self.open_streams[stream] = now
                self.proxy.count()

    def from_server(self, data: bytes, now: float) -> None:
        if self.proxy.mode == "http1":
            self.last_answer = now
            return
        for kind, flags, stream in self.server_frames.feed(data):
            if kind in (HEADERS, DATA) and flags & END_STREAM and stream in self.open_streams:
                self.proxy.record(self.open_streams.pop(stream), now)

    def closed(self) -> None:
        if self.exchange_start is not None and self.last_answer is not None:
            self.proxy.record(self.exchange_start, self.last_answer)
            self.exchange_start = None


def union(spans: list[tuple[float, float]]) -> float:
    """The length of the union of ``spans``: time covered by two calls at once counts once."""
    total, cursor = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > cursor:
            total += b - max(a, cursor)
            cursor = b
    return total


def busy(proxies: list[TimingProxy], start: float, end: float) -> float:
    """Seconds within [start, end] during which any call through any of ``proxies`` was open:
    a Stripe call and a Firestore read made at once are one wait, not two."""
    return union([span for proxy in proxies for span in proxy.spans(start, end)])


class TimingProxy:
    """Listens on 127.0.0.1:``port`` and forwards to ``target`` (settable before first use)."""

    def __init__(self, mode: Mode, target: tuple[str, int] | None = None) -> None:
        self.mode = mode
        self.target = target
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._lock = threading.Lock()
        self._intervals: list[tuple[float, float]] = []
        self._calls = 0
        self._connections: list[_Connection] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"{mode}-proxy", daemon=True)

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    def count(self) -> None:
        self._calls += 1  # under self._lock: called from _pump only

    def record(self, start: float, end: float) -> None:
        self._intervals.append((start, end))  # under self._lock

    def flush(self) -> None:
        """Closes the exchanges still open on idle keep-alive connections."""
        with self._lock:
            for connection in self._connections:
                connection.closed()

    def spans(self, start: float, end: float) -> list[tuple[float, float]]:
        """The upstream calls open within [start, end], clipped to it."""
        with self._lock:
            return [
                (max(a, start), min(b, end)) for a, b in self._intervals if b > start and a < end
            ]

    def busy(self, start: float, end: float) -> float:
        """Seconds within [start, end] during which at least one upstream call was open."""
        return union(self.spans(start, end))

    def reset(self) -> None:
        with self._lock:
            self._intervals.clear()

    def __enter__(self) -> TimingProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                if self.target is None:
                    raise OSError("no target yet")
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self)
            with self._lock:
                self._connections.append(connection)
            for source, sink, outbound in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, connection, outbound), daemon=True
                ).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, connection: _Connection, outbound: bool
    ) -> None:
        try:
            while data := source.recv(65536):
                now = time.perf_counter()
                with self._lock:
                    if outbound:
                        connection.from_client(data, now)
                    else:
                        connection.from_server(data, now)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                connection.closed()
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
