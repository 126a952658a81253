"""The Stripe client of an instance: one connection pool for all its request threads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest

from billing.config import BillingSettings
from billing.stripe_api.client import build
from devstack.stripe_standin.serving import serve

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class Recorder:
    """A WSGI app answering like Stripe's customer retrieve, noting each client port."""

    def __init__(self) -> None:
        self.ports: list[str] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.ports.append(str(environ["REMOTE_PORT"]))
        body = json.dumps({"id": "cus_1", "object": "customer"}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    app = Recorder()
    server = serve("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_request_threads_share_one_kept_connection(
    recorder: tuple[Recorder, str], settings: BillingSettings
) -> None:
    app, url = recorder
    client = build(settings.model_copy(update={"stripe_api_base": url}))

    def call() -> None:
        assert client.v1.customers.retrieve("cus_1").id == "cus_1"

    # One request thread after another, as gunicorn's threads take requests in turn: with a
    # session per thread (stripe-python's default) each would open its own connection.
    for _ in range(6):
        worker = threading.Thread(target=call)
        worker.start()
        worker.join(30)
    assert len(app.ports) == 6
    assert len(set(app.ports)) == 1
