"""The Stripe client of an instance: one connection pool for all its request threads, the
SDK's request sent by urllib3 with what requests did for it that a Stripe call needs (timeouts,
Stripe's CA bundle, the environment's proxy), and failures classed as the SDK's own
RequestsClient classes them (which it retries and which not)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import socket
import ssl
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import stripe
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from billing.config import BillingSettings
from billing.stripe_api import raw
from billing.stripe_api.client import Urllib3Client, build
from devstack.stripe_standin.serving import serve

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class Recorder:
    """A WSGI app answering like Stripe's customer retrieve (the customer asked for), noting
    each client port."""

    def __init__(self) -> None:
        self.ports: list[str] = []
        self.authorizations: list[str] = []
        self.hosts: list[str] = []
        self.proxy_authorizations: list[str | None] = []
        self.paths: list[str] = []
        self.idempotency_keys: list[str | None] = []
        self.redirect = False

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.ports.append(str(environ["REMOTE_PORT"]))
        self.authorizations.append(str(environ.get("HTTP_AUTHORIZATION")))
        self.hosts.append(str(environ.get("HTTP_HOST")))
        self.proxy_authorizations.append(environ.get("HTTP_PROXY_AUTHORIZATION"))
        self.paths.append(str(environ.get("PATH_INFO")))
        self.idempotency_keys.append(environ.get("HTTP_IDEMPOTENCY_KEY"))
        if self.redirect:
            start_response("302 Found", [("Location", "/elsewhere"), ("Content-Length", "0")])
            return [b""]
        asked = str(environ.get("PATH_INFO")).rsplit("/", 1)[-1]
        answered = asked if asked.startswith("cus_") else "cus_1"
        body = json.dumps({"id": answered, "object": "customer"}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def _client(settings: BillingSettings, api_base: str, **changes: Any) -> stripe.StripeClient:
    """The functions' client (``build``) for ``api_base``, with ``changes`` to the settings."""
    return build(settings.model_copy(update={"stripe_api_base": api_base, **changes}))


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
    client = _client(settings, url)

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


def test_concurrent_calls_on_the_shared_pool_each_get_their_own_answer(
    recorder: tuple[Recorder, str], settings: BillingSettings
) -> None:
    # The instance's request threads at once on one pool: no answer reaches another call,
    # and connections are kept (at most one per thread calling at the same time).
    app, url = recorder
    client = _client(settings, url)
    wrong: list[tuple[str, str]] = []

    def calls(worker: int) -> None:
        for n in range(10):
            wanted = f"cus_{worker}_{n}"
            got = client.v1.customers.retrieve(wanted).id
            if got != wanted:
                wrong.append((wanted, got))

    workers = [threading.Thread(target=calls, args=(w,)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert not any(worker.is_alive() for worker in workers)
    assert wrong == []
    assert len(app.ports) == 80
    assert len(set(app.ports)) <= 8


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
    # ~/.netrc replaces the Authorization header); the client reads no ~/.netrc, so the key
    # is what Stripe sees.
    app, url = recorder
    _netrc_for("127.0.0.1", monkeypatch, tmp_path)
    key = "sk_test_" + "k" * 24
    client = _client(settings, url, stripe_secret_key=SecretStr(key))
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.authorizations == [f"Bearer {key}"]


@pytest.mark.usefixtures("no_proxy_environment")
def test_a_proxy_in_the_environment_is_still_used(
    recorder: tuple[Recorder, str], settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment behind an egress proxy: the API's host is unreachable but through it.
    app, url = recorder
    monkeypatch.setenv("HTTP_PROXY", url)
    client = _client(settings, "http://stripe.invalid")
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.hosts == ["stripe.invalid"]


@pytest.mark.usefixtures("no_proxy_environment")
def test_behind_a_proxy_a_netrc_entry_for_the_api_host_still_does_not_replace_the_key(
    recorder: tuple[Recorder, str],
    settings: BillingSettings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # With a proxy configured, requests' trust_env read ~/.netrc again on every call.
    app, url = recorder
    _netrc_for("stripe.invalid", monkeypatch, tmp_path)
    monkeypatch.setenv("HTTP_PROXY", url)
    key = "sk_test_" + "p" * 24
    client = _client(settings, "http://stripe.invalid", stripe_secret_key=SecretStr(key))
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
    client = _client(settings, url)
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.hosts == [url.removeprefix("http://")]


@pytest.mark.usefixtures("no_proxy_environment")
def test_a_proxy_s_credentials_are_sent_to_it(
    recorder: tuple[Recorder, str], settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = recorder
    monkeypatch.setenv("HTTP_PROXY", url.replace("http://", "http://egress:s3cret@"))
    client = _client(settings, "http://stripe.invalid")
    assert client.v1.customers.retrieve("cus_1").id == "cus_1"
    assert app.proxy_authorizations == ["Basic ZWdyZXNzOnMzY3JldA=="]  # egress:s3cret


@pytest.mark.usefixtures("no_proxy_environment")
def test_a_socks_proxy_is_refused_by_name_when_the_client_is_built(
    settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ValueError, match="socks5:// proxy is not supported"):
        build(settings)


def test_a_redirect_is_answered_not_followed(recorder: tuple[Recorder, str]) -> None:
    app, url = recorder
    app.redirect = True
    client = Urllib3Client((5, 30), url)
    _, status, headers = client.request("get", f"{url}/v1/customers/cus_1", {})
    assert status == 302
    assert headers["location"] == "/elsewhere"
    assert app.paths == ["/v1/customers/cus_1"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_a_retried_connection_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(stripe.APIConnectionError) as raised:
        Urllib3Client((5, 30), url).request("get", f"{url}/v1/customers/cus_1", {})
    assert raised.value.should_retry is True


def test_a_read_timeout_is_a_retried_connection_error() -> None:
    with socket.socket() as silent:  # accepts (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(stripe.APIConnectionError) as raised:
            Urllib3Client((5, 0.2), url).request("get", f"{url}/v1/customers/cus_1", {})
    assert raised.value.should_retry is True
    assert "ReadTimeoutError" in str(raised.value)


def test_a_certificate_that_does_not_verify_is_not_retried(
    recorder: tuple[Recorder, str],
) -> None:
    # TLS spoken to a server that does not speak it: the handshake fails, as it does against
    # a certificate Stripe's CA bundle does not vouch for.
    _, url = recorder
    https = url.replace("http://", "https://")
    with pytest.raises(stripe.APIConnectionError) as raised:
        Urllib3Client((5, 30), https).request("get", f"{https}/v1/customers/cus_1", {})
    assert raised.value.should_retry is False
    assert "SSLError" in str(raised.value)


# A POST through the SDK's typed service, and through ``raw.post`` (the JSON answer) with and
# without a key of the caller's: each sends its parameters the same way and keeps its key.
POSTS: dict[str, tuple[Callable[[stripe.StripeClient], str], str | None]] = {
    "typed service": (
        lambda client: client.v1.customers.create(params={"email": "a@example.com"}).id,
        None,
    ),
    "raw.post": (
        lambda client: str(raw.post(client, "/v1/customers", email="a@example.com")["id"]),
        None,
    ),
    "raw.post with a key": (
        lambda client: str(
            raw.post(client, "/v1/customers", email="a@example.com", idempotency_key="k-1")["id"]
        ),
        "k-1",
    ),
}


@pytest.mark.parametrize("post", POSTS)
def test_a_connection_dropped_mid_call_is_retried_with_the_same_idempotency_key(
    settings: BillingSettings, post: str
) -> None:
    # The first attempt's connection closes before any answer (a reset on the way); the SDK
    # tries again with the same key, so Stripe performs the POST once.
    call, given_key = POSTS[post]
    seen: list[bytes] = []
    body = json.dumps({"id": "cus_1", "object": "customer"}).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve_two() -> None:
        for attempt in range(2):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(30)
                request = b""
                while not request.endswith(b"email=a%40example.com"):
                    request += conn.recv(65536)
                seen.append(request)
                if attempt == 1:
                    conn.sendall(answer)

    server = threading.Thread(target=serve_two, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        client = _client(settings, url, stripe_max_network_retries=2)
        assert call(client) == "cus_1"
    finally:
        server.join(30)
        listener.close()
    assert len(seen) == 2
    keys = [
        line.split(b":", 1)[1].strip().decode()
        for request in seen
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"idempotency-key:")
    ]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    if given_key is not None:
        assert keys[0] == given_key


def _tls_server_signed_by_a_ca_of_its_own(
    folder: Path, name: x509.GeneralName | None = None
) -> tuple[ssl.SSLContext, Path]:
    """A server context whose certificate a fresh CA signed, for ``name`` (127.0.0.1 unless
    told), and that CA's file."""
    name = name or x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    now = datetime.now(UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([name]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca_cert = certificate("test CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate("127.0.0.1", key, ca_name, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (folder / "server.pem").write_bytes(
        cert.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem")
    return context, folder / "ca.pem"


_ANSWER_BODY = json.dumps({"id": "cus_1", "object": "customer"}).encode()
_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_ANSWER_BODY)}\r\n\r\n".encode()
    + _ANSWER_BODY
)


@contextlib.contextmanager
def _tls_server(context: ssl.SSLContext) -> Iterator[str]:
    """An https server on 127.0.0.1 answering every request with a customer, closing after."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return  # the listener closed: the test is over
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    conn.settimeout(30)
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(65536)
                    conn.sendall(_ANSWER.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            except (ssl.SSLError, OSError):
                continue  # a client that refused the certificate

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        listener.close()
        server.join(30)


def test_only_stripes_ca_bundle_vouches_for_the_api_not_the_environment_s_trust_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The environment's trust store (here SSL_CERT_FILE) trusts a CA that Stripe's bundle
    # (stripe.ca_bundle_path, what the SDK verifies with) does not: the call must refuse it,
    # as the SDK's RequestsClient would, and not retry.
    context, ca_file = _tls_server_signed_by_a_ca_of_its_own(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with _tls_server(context) as url:
        # The environment's store does vouch for the server (the test means something):
        trusting = urllib3.PoolManager(cert_reqs="CERT_REQUIRED")
        assert trusting.request("GET", f"{url}/v1/customers/cus_1", retries=False).status == 200
        with pytest.raises(stripe.APIConnectionError) as raised:
            Urllib3Client((5, 30), url).request("get", f"{url}/v1/customers/cus_1", {})
    assert raised.value.should_retry is False
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)


def test_a_certificate_stripe_s_bundle_vouches_for_is_accepted_for_its_host_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The CA is in "Stripe's bundle" here: a certificate it signed for the host is accepted
    # (the bundle is what verifies), one it signed for another name is refused, not retried.
    (tmp_path / "right").mkdir()
    right, ca_file = _tls_server_signed_by_a_ca_of_its_own(tmp_path / "right")
    monkeypatch.setattr(stripe, "ca_bundle_path", str(ca_file))
    with _tls_server(right) as url:
        _, status, _ = Urllib3Client((5, 30), url).request("get", f"{url}/v1/customers/cus_1", {})
    assert status == 200
    (tmp_path / "wrong").mkdir()
    wrong, other_ca = _tls_server_signed_by_a_ca_of_its_own(
        tmp_path / "wrong", x509.DNSName("api.stripe.com")
    )
    monkeypatch.setattr(stripe, "ca_bundle_path", str(other_ca))
    with _tls_server(wrong) as url, pytest.raises(stripe.APIConnectionError) as raised:
        Urllib3Client((5, 30), url).request("get", f"{url}/v1/customers/cus_1", {})
    assert raised.value.should_retry is False
    assert "SSLError" in str(raised.value)
    assert "mismatch" in str(raised.value), str(raised.value)  # not for that name


type Action = bytes | Callable[[socket.socket], None]


@contextlib.contextmanager
def _scripted(*answers: Action) -> Iterator[tuple[str, list[bytes]]]:
    """A plain http server on 127.0.0.1 answering each request with the next of ``answers``,
    keeping the connection between them as Stripe does: bytes are sent as they are; a callable
    is handed the connection, which ends with it. Yields the URL and the requests seen."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    pending = list(answers)
    seen: list[bytes] = []

    def serve_connection(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            buffer = b""
            while pending:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                seen.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                answer = pending.pop(0)
                if callable(answer):
                    answer(conn)
                    return
                conn.sendall(answer)

    def serve() -> None:
        while pending:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener closed: the test is over
            serve_connection(conn)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        listener.close()
        server.join(30)


def _answer(status: str, headers: dict[str, str], body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def _partial_answer(conn: socket.socket) -> None:
    """The status line, the headers and part of a body that says it is longer."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    conn.sendall(b'{"id": "cus_')


def test_stripe_s_answer_headers_are_read_whatever_their_case(
    settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK asks for Stripe-Should-Retry and Request-Id in lower case, our code for
    # Idempotent-Replayed as Stripe spells it; HTTP header names are case-insensitive (and a
    # proxy speaking HTTP/2 on the way lower-cases them all).
    monkeypatch.setattr(Urllib3Client, "_sleep_time_seconds", lambda self, retries: 0.0)
    locked = {"error": {"type": "invalid_request_error", "code": "lock_timeout", "message": "x"}}
    with _scripted(
        _answer("429 Too Many Requests", {"Stripe-Should-Retry": "true"}, locked),
        _answer(
            "200 OK",
            {"idempotent-replayed": "true", "REQUEST-ID": "req_2"},
            {"id": "cus_1", "object": "customer"},
        ),
    ) as (url, seen):
        client = _client(settings, url, stripe_max_network_retries=1)
        customer, replayed = raw.post_keyed(
            client,
            "/v1/customers",
            {"email": "a@example.com", "name": "Zoë 🎉"},
            idempotency_key="k-1",
        )
    assert len(seen) == 2  # the lock timeout was retried, as Stripe asked
    assert seen[0].endswith(b"&name=Zo%C3%AB+%F0%9F%8E%89")  # the form, whole, as sent
    assert customer["id"] == "cus_1"
    assert replayed


def test_a_connection_broken_while_the_answer_is_read_is_a_retried_error() -> None:
    with _scripted(_partial_answer) as (url, _), pytest.raises(stripe.APIConnectionError) as raised:
        Urllib3Client((5, 30), url).request("get", f"{url}/v1/customers/cus_1", {})
    assert raised.value.should_retry is True
    assert "ProtocolError" in str(raised.value)


def test_a_read_timeout_mid_answer_is_retried_and_its_connection_never_reused() -> None:
    # A connection whose answer was abandoned half read still carries the rest of it: kept
    # in the pool, the next call on it would read that rest as its own answer. The client
    # must close it; the server sees its end of the connection close.
    closed = threading.Event()

    def stall(conn: socket.socket) -> None:
        _partial_answer(conn)
        while conn.recv(65536):  # until the client closes its end (or 30 s: then not set)
            pass
        closed.set()

    with _scripted(stall) as (url, _):
        with pytest.raises(stripe.APIConnectionError) as raised:
            Urllib3Client((5, 0.2), url).request("get", f"{url}/v1/customers/cus_1", {})
        assert closed.wait(30)
    assert raised.value.should_retry is True
    assert "ReadTimeoutError" in str(raised.value)


def test_a_header_the_client_refuses_never_puts_the_key_in_an_error_or_a_log(
    recorder: tuple[Recorder, str],
    settings: BillingSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A key read with a trailing newline (the settings now refuse one at start; this is the
    # client's own guard): http.client refuses the Authorization header, quoting it whole.
    app, url = recorder
    key = "sk_test_" + "n" * 24
    client = _client(settings, url, stripe_secret_key=SecretStr(key + "\n"))
    with caplog.at_level(logging.DEBUG), pytest.raises(stripe.APIConnectionError) as raised:
        client.v1.customers.retrieve("cus_1")
    told = "".join(traceback.format_exception(raised.value)) + caplog.text
    assert "n" * 24 not in told
    assert "ValueError" in str(raised.value)
    assert raised.value.should_retry is False
    assert app.authorizations == []  # nothing was sent


@pytest.mark.usefixtures("no_proxy_environment")
def test_a_malformed_proxy_url_is_refused_without_its_password(
    settings: BillingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://egress:pr0xy-passw0rd@proxy.example:99999")
    with pytest.raises(ValueError, match="HTTPS_PROXY, HTTP_PROXY or ALL_PROXY") as raised:
        build(settings)
    assert "pr0xy-passw0rd" not in "".join(traceback.format_exception(raised.value))
