"""The Stripe client of an instance: one connection pool for all its request threads."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from billing.config import BillingSettings
from billing.stripe_api.client import build
from devstack.stripe_standin.serving import serve

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class Recorder:
    """A WSGI app answering like Stripe's customer retrieve, noting each client port."""

    def __init__(self) -> None:
        self.ports: list[str] = []
        self.authorizations: list[str] = []
        self.hosts: list[str] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.ports.append(str(environ["REMOTE_PORT"]))
        self.authorizations.append(str(environ.get("HTTP_AUTHORIZATION")))
        self.hosts.append(str(environ.get("HTTP_HOST")))
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


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)


def _netrc_for(host: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A ``~/.netrc`` (through ``NETRC``) with credentials for ``host`` that are not the key."""
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host} login someone password not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))


@pytest.mark.usefixtures("no_proxy_environment")
def test_a_netrc_entry_for_the_api_host_does_not_replace_the_secret_key(
    recorder: tuple[Recorder, str],
    settings: BillingSettings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # requests' trust_env would send these credentials instead of the key (Basic auth from
    # ~/.netrc replaces the Authorization header); without a proxy the session reads no
    # environment, so the key is what Stripe sees.
    app, url = recorder
    _netrc_for("127.0.0.1", monkeypatch, tmp_path)
    key = "sk_test_" + "k" * 24
    client = build(
        settings.model_copy(update={"stripe_api_base": url, "stripe_secret_key": SecretStr(key)})
    )
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.authorizations == [f"Bearer {key}"]


@pytest.mark.usefixtures("no_proxy_environment")
def test_a_proxy_in_the_environment_is_still_used(
    recorder: tuple[Recorder, str], settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment behind an egress proxy: the API's host is unreachable but through it.
    app, url = recorder
    monkeypatch.setenv("HTTP_PROXY", url)
    client = build(settings.model_copy(update={"stripe_api_base": "http://stripe.invalid"}))
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.hosts == ["stripe.invalid"]


@pytest.mark.usefixtures("no_proxy_environment")
def test_behind_a_proxy_a_netrc_entry_for_the_api_host_still_does_not_replace_the_key(
    recorder: tuple[Recorder, str],
    settings: BillingSettings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # With a proxy configured, requests' trust_env would read ~/.netrc again on every call.
    app, url = recorder
    _netrc_for("stripe.invalid", monkeypatch, tmp_path)
    monkeypatch.setenv("HTTP_PROXY", url)
    key = "sk_test_" + "p" * 24
    client = build(
        settings.model_copy(
            update={"stripe_api_base": "http://stripe.invalid", "stripe_secret_key": SecretStr(key)}
        )
    )
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.hosts == ["stripe.invalid"]  # through the proxy
    assert app.authorizations == [f"Bearer {key}"]


@pytest.mark.usefixtures("no_proxy_environment")
def test_no_proxy_naming_the_api_host_bypasses_the_proxy(
    recorder: tuple[Recorder, str], settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = recorder
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: used, it fails
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = build(settings.model_copy(update={"stripe_api_base": url}))
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.hosts == [url.removeprefix("http://")]
