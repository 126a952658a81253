"""A real SMTP server for the email tests (aiosmtpd), keeping what it receives in memory.

It can refuse the first N messages (as a relay having a bad minute does), require a login,
and speak STARTTLS or implicit TLS with a certificate made for the test.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack import procs


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class Recorder:
    """aiosmtpd handler: refuses the first ``refuse_first`` messages with ``refusal``."""

    refuse_first: int = 0
    refusal: str = "451 4.3.0 Mail server temporarily rejected message"
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.attempts += 1
            if self.attempts <= self.refuse_first:
                return self.refusal
            raw = envelope.original_content or b""
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                Received(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], parsed, raw)
            )
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [item.message for item in self.received]


@dataclass
class MailServer:
    host: str
    port: int
    recorder: Recorder
    logins: list[tuple[str, str]]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files in ``folder``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def mail_server(
    *,
    refuse_first: int = 0,
    login: tuple[str, str] | None = None,
    tls: Literal["starttls", "ssl"] | None = None,
    cert: tuple[Path, Path] | None = None,
) -> Iterator[MailServer]:
    """An SMTP server on a free port of 127.0.0.1 until the block ends.

    ``tls``: None (plain), "starttls" (required before MAIL) or "ssl" (implicit TLS); both need
    ``cert``. With ``login``, AUTH with exactly that user and password is required.
    """
    recorder = Recorder(refuse_first=refuse_first)
    logins: list[tuple[str, str]] = []

    def authenticate(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        logins.append((user, password))
        return AuthResult(success=(user, password) == login)

    context = None
    if tls is not None:
        assert cert is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*cert)
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": True}
    if login is not None:
        kwargs |= {"authenticator": authenticate, "auth_required": True}
        # Implicit TLS is invisible to aiosmtpd's check, which only knows STARTTLS.
        kwargs["auth_require_tls"] = tls == "starttls"
    if tls == "starttls":
        kwargs |= {"tls_context": context, "require_starttls": True}
    if tls == "ssl":
        kwargs["ssl_context"] = context
    port = procs.free_port()
    controller = Controller(recorder, hostname=procs.LOCALHOST, port=port, **kwargs)
    controller.start()
    try:
        yield MailServer(procs.LOCALHOST, port, recorder, logins)
    finally:
        controller.stop()
