"""Hands a mail to an SMTP relay (SendGrid, Mailgun, SES, Google Workspace, a local sink).

STARTTLS or implicit TLS (``SMTP_SECURITY``, by default from the port), certificates checked,
a login only when ``SMTP_USERNAME`` is set, a timeout on connecting and on every command.
Any failure raises :class:`SendFailed`; the caller decides what is retried.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from core.settings import ConfigError
from mailer.config import MailSettings


class SendFailed(Exception):
    """The relay did not take the mail (or did not say it did): retry later."""


class Sender(Protocol):
    def send(self, message: EmailMessage, sender: str, recipient: str) -> None: ...


class SmtpSender:
    def __init__(self, settings: MailSettings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.security = settings.smtp_effective_security
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.connect_timeout = settings.smtp_connect_timeout
        self.timeout = settings.smtp_timeout
        if self.username and self.password is None:
            raise ConfigError("SMTP_USERNAME is set but SMTP_PASSWORD is not")
        # Our own name in EHLO; without it smtplib asks DNS for this host's FQDN, which can
        # stall for seconds where reverse DNS is slow.
        self.helo_name = settings.mail_from.rpartition("@")[2]
        self._tls = ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.helo_name,
                timeout=self.connect_timeout,
                context=self._tls,
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.helo_name, timeout=self.connect_timeout
        )

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        try:
            with self._connect() as client:
                if client.sock is not None:
                    client.sock.settimeout(self.timeout)
                if self.security == "starttls":
                    client.starttls(context=self._tls)
                if self.username and self.password is not None:
                    client.login(self.username, self.password.get_secret_value())
                # One recipient: refused, it raises SMTPRecipientsRefused; no partial success.
                client.send_message(message, from_addr=sender, to_addrs=[recipient])
        except (smtplib.SMTPException, OSError) as error:
            raise SendFailed(_describe(error)) from None


def _describe(error: Exception) -> str:
    """What went wrong, for the log: the relay's code and words, never a credential."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        return f"the relay refused the recipient ({', '.join(map(str, codes))})"
    if isinstance(error, smtplib.SMTPResponseException):
        said = error.smtp_error
        text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        return f"{type(error).__name__}: {error.smtp_code} {text[:200]}"
    return f"{type(error).__name__}: {str(error)[:200]}"
