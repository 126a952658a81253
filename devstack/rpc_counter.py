"""A TCP proxy that counts the gRPC calls passing through it to an emulator.

The functions talk to the Firestore emulator over cleartext HTTP/2 (gRPC). Every call opens
one new client stream, which starts with a HEADERS frame on a new odd stream id; counting
those on the wire measures round trips independently of the application's own counters.
Used by the benchmarks; never deployed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS = 0x1


class _StreamCounter:
    """Parses the client-to-server half of one HTTP/2 connection, counting new streams."""

    def __init__(self) -> None:
        self._buffer = b""
        self._preface_seen = False
        self._streams: set[int] = set()
        self.calls = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._preface_seen:
            if len(self._buffer) < len(PREFACE):
                return
            self._buffer = self._buffer[len(PREFACE) :]
            self._preface_seen = True
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            if len(self._buffer) < 9 + length:
                return
            kind = self._buffer[3]
            (stream_id,) = struct.unpack(">I", self._buffer[5:9])
            stream_id &= 0x7FFFFFFF
            if kind == HEADERS and stream_id % 2 == 1 and stream_id not in self._streams:
                self._streams.add(stream_id)
                self.calls += 1
            self._buffer = self._buffer[9 + length :]


class RpcCountingProxy:
    """Listens on 127.0.0.1:``port`` (0 = any free port) and forwards to ``target``.

    ``target`` may be set after the proxy starts (the emulator's port is known only once the
    stack is up); it must be set before the first client connects.
    """

    def __init__(self, target: tuple[str, int] | None = None, port: int = 0) -> None:
        self.target = target
        self._server = socket.create_server(("127.0.0.1", port))
        self.port = int(self._server.getsockname()[1])
        self._lock = threading.Lock()
        self._counters: list[_StreamCounter] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="rpc-proxy", daemon=True)

    @property
    def calls(self) -> int:
        with self._lock:
            return sum(counter.calls for counter in self._counters)

    def start(self) -> RpcCountingProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.close()

    def __enter__(self) -> RpcCountingProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

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
            counter = _StreamCounter()
            with self._lock:
                self._counters.append(counter)
            threading.Thread(
                target=self._pump, args=(client, upstream, counter), daemon=True
            ).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, counter: _StreamCounter | None
    ) -> None:
        try:
            while data := source.recv(65536):
                if counter is not None:
                    with self._lock:
                        counter.feed(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
