"""How the stand-in is served: HTTP/1.1 with keep-alive, as Stripe's API is.

Stripe keeps a connection open between requests (stripe-python keeps a ``requests`` session,
and so a pool of open connections, for exactly that: stripe/stripe-python#276, #324, #531).
werkzeug's development server answers every response with ``Connection: close``, so against
it each call would open a new connection, which a function talking to Stripe does not do, and
the local figures would carry a connect per call that production does not pay.

:class:`KeepAliveRequestHandler` keeps the connection open unless the client asks to close
it (or speaks HTTP/1.0, or sends a chunked body). werkzeug closes because its request handler
cannot tell where one request's body ends on a reused connection: this one reads each body in
full before the app runs (Stripe's request bodies are small forms), so the next request starts
exactly where it left off, and whatever the app does not read is discarded with the request.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

log = logging.getLogger("devstack.stripe_standin.serving")

# An idle connection is closed after this long (a waiting thread per open connection).
IDLE_TIMEOUT_SECONDS = 60


class KeepAliveRequestHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    # TCP_NODELAY on each connection. werkzeug writes a response's headers and its body in two
    # sends; with Nagle's algorithm on, the body waits for the client to acknowledge the
    # headers, and a client delays that acknowledgement (~40 ms on Linux) hoping to piggyback
    # it. On a fresh connection the handshake's quick acknowledgements hid this; on a kept one
    # every answer waited ~40 ms (a reused connection's GET took 47 ms against a new one's
    # 4-7 ms), which Stripe's servers do not make a client wait.
    disable_nagle_algorithm = True

    # Set once a request line has arrived, cleared after its response: a drop while it is set
    # cost a client its answer.
    _mid_request = False

    def parse_request(self) -> bool:
        self._mid_request = True
        return super().parse_request()

    def handle_one_request(self) -> None:
        super().handle_one_request()
        self._mid_request = False

    def connection_dropped(
        self, error: BaseException, environ: WSGIEnvironment | None = None
    ) -> None:
        """werkzeug ends a request silently on a socket error, or on a ``ConnectionError`` or
        ``TimeoutError`` raised inside the app, and sends nothing. werkzeug then closes the
        connection (it closes every one); a kept connection must be closed here too, or the
        client waits for an answer that never comes until the idle timeout closes it a minute
        later (``RemoteDisconnected`` after 60 s). An idle kept connection timing out is normal;
        a drop during a request is logged with the request and the error, so a client's lost
        answer has a cause."""
        self.close_connection = True
        if environ is not None and environ.get("stripe_standin.disconnect"):
            log.info("dropped %r by a fault rule", self.requestline)
        elif self._mid_request:
            log.warning("dropped %r without an answer: %r", self.requestline, error)
        else:
            log.debug("idle connection closed: %r", error)

    def _reusable(self) -> bool:
        return (
            self.request_version == "HTTP/1.1"
            and (self.headers.get("Connection") or "").strip().lower() != "close"
            and "Transfer-Encoding" not in self.headers
        )

    def send_header(self, keyword: str, value: str) -> None:
        # werkzeug sends "Connection: close" on every response (and http.server then closes).
        if keyword.lower() == "connection" and value.lower() == "close" and self._reusable():
            return
        super().send_header(keyword, value)

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        if self._reusable():
            length = int(self.headers.get("Content-Length") or 0)
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length > 0 else b"")
            # After the response werkzeug drains "what is left" of the request from rfile;
            # on a kept connection that would be the client's next request. Nothing is left.
            self.rfile = io.BytesIO()
        return environ

    def run_wsgi(self) -> None:
        connection_file = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection_file


def serve(host: str, port: int, app: WSGIApplication) -> BaseWSGIServer:
    """A threaded server for ``app`` on host:port (0: a free port) that keeps connections."""
    return make_server(host, port, app, threaded=True, request_handler=KeepAliveRequestHandler)
