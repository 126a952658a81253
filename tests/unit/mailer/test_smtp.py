"""The SMTP client against a real SMTP server (aiosmtpd): TLS, login, refusals, timeouts."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from billing.errors import ConfigError
from devstack import procs
from mailer.smtp import SendFailed, SmtpSender
from tests.conftest import mail_settings
from tests.support.mail_server import mail_server, self_signed


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("cert"))


def _mail() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "billing@example.com",
        "ada@example.com",
        "Hi",
    )
    message.set_content("Hello")
    return message


def sender(port: int, cert: tuple[Path, Path] | None = None, **settings: object) -> SmtpSender:
    client = SmtpSender(mail_settings(smtp_port=port, **settings))
    if cert is not None:  # trust the test's own certificate, and only it
        client._tls = ssl.create_default_context(cafile=str(cert[0]))
    return client


def test_a_plain_relay_gets_the_mail_with_its_envelope() -> None:
    with mail_server() as server:
        sender(server.port, smtp_security="none").send(
            _mail(), "bounces@example.com", "ada@example.com"
        )
        [received] = server.recorder.received
    assert (received.mail_from, received.rcpt_tos) == ("bounces@example.com", ["ada@example.com"])
    assert received.message["Subject"] == "Hi"
    assert server.logins == []  # no SMTP_USERNAME: no AUTH


def test_starttls_then_login_when_a_username_is_set(cert: tuple[Path, Path]) -> None:
    with mail_server(tls="starttls", cert=cert, login=("apikey", "s3cret")) as server:
        client = sender(
            server.port, cert, smtp_security="starttls", smtp_username="apikey",
            smtp_password="s3cret",
        )  # fmt: skip
        client.send(_mail(), "billing@example.com", "ada@example.com")
        assert len(server.recorder.received) == 1
        assert server.logins == [("apikey", "s3cret")]


# aiosmtpd knows only STARTTLS as TLS, so it warns about AUTH over what is in fact TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_on_port_465_style_relays(cert: tuple[Path, Path]) -> None:
    with mail_server(tls="ssl", cert=cert, login=("user", "pw")) as server:
        client = sender(
            server.port, cert, smtp_security="ssl", smtp_username="user", smtp_password="pw"
        )
        client.send(_mail(), "billing@example.com", "ada@example.com")
        assert len(server.recorder.received) == 1


def test_a_certificate_nobody_vouches_for_is_refused(cert: tuple[Path, Path]) -> None:
    with mail_server(tls="starttls", cert=cert) as server:
        with pytest.raises(SendFailed, match="SSL"):
            sender(server.port, smtp_security="starttls").send(
                _mail(), "billing@example.com", "ada@example.com"
            )
        assert server.recorder.received == []


def test_starttls_required_but_not_offered_fails_rather_than_sending_in_clear() -> None:
    with mail_server() as server:
        with pytest.raises(SendFailed, match="STARTTLS"):
            sender(server.port, smtp_security="starttls").send(
                _mail(), "billing@example.com", "ada@example.com"
            )
        assert server.recorder.received == []


def test_wrong_credentials_and_missing_login_fail(cert: tuple[Path, Path]) -> None:
    with mail_server(tls="starttls", cert=cert, login=("apikey", "right")) as server:
        for settings in (
            {"smtp_username": "apikey", "smtp_password": "wrong"},
            {},  # the relay wants AUTH and gets none
        ):
            with pytest.raises(SendFailed):
                # aiosmtpd stops answering after a failed AUTH: the command timeout ends it.
                sender(
                    server.port, cert, smtp_security="starttls", smtp_timeout=1, **settings
                ).send(_mail(), "billing@example.com", "ada@example.com")
        assert server.recorder.received == []


def test_a_refusal_fails_with_the_relays_code_and_words() -> None:
    with mail_server(refuse_first=1) as server:
        with pytest.raises(SendFailed, match=r"451 4\.3\.0"):
            sender(server.port, smtp_security="none").send(
                _mail(), "billing@example.com", "ada@example.com"
            )
        sender(server.port, smtp_security="none").send(
            _mail(), "billing@example.com", "ada@example.com"
        )
        assert len(server.recorder.received) == 1


def test_nothing_listening_fails_at_once() -> None:
    with pytest.raises(SendFailed, match="ConnectionRefusedError"):
        sender(procs.free_port(), smtp_security="none").send(
            _mail(), "billing@example.com", "ada@example.com"
        )


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word, like a relay that hangs."""
    with socket.socket() as listener:
        listener.bind((procs.LOCALHOST, 0))
        listener.listen(4)
        yield int(listener.getsockname()[1])


def test_a_relay_that_never_answers_fails_after_the_connect_timeout(silent_server: int) -> None:
    client = sender(silent_server, smtp_security="none", smtp_connect_timeout=0.5)
    began = time.monotonic()
    with pytest.raises(SendFailed, match="timed out"):
        client.send(_mail(), "billing@example.com", "ada@example.com")
    assert time.monotonic() - began < 5


def test_a_username_without_a_password_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="SMTP_PASSWORD"):
        SmtpSender(mail_settings(smtp_username="apikey"))
