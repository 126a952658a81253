"""The email function's settings: its relay, its sender and what its mails link to.

The email function loads only these (and the base every function shares), so it starts without
a Stripe key, and a billing function starts without an SMTP relay. The relay password is a
secret: Secret Manager fills ``SMTP_PASSWORD`` in the cloud.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from core.settings import EmailAddress, EnvSettings, HostName, OneLine, WebUrl

_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_\d{3})?$")
_DEFAULT_LOCALE = "en_US"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class MailSettings(EnvSettings):
    smtp_host: HostName = Field(description="SMTP relay host name.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP relay port.")
    smtp_security: Literal["starttls", "ssl", "none"] | None = Field(
        default=None,
        description="starttls (upgrade a plain connection; port 587/25/2525), ssl (implicit "
        "TLS; port 465) or none (local sink only). Default: ssl on port 465, else starttls.",
    )
    smtp_username: str | None = Field(
        default=None, description="Relay login; unset for relays that take no AUTH."
    )
    smtp_password: SecretStr | None = Field(
        default=None, description="Relay password or API key; from Secret Manager in the cloud."
    )
    smtp_connect_timeout: float = Field(
        default=10.0, gt=0, le=60, description="Seconds to connect to the relay."
    )
    smtp_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Per SMTP command once connected."
    )
    mail_from: EmailAddress = Field(description="Sender address (envelope and From).")
    mail_from_name: OneLine | None = Field(
        default=None, max_length=100, description="Sender display name (default: PRODUCT_NAME)."
    )
    mail_reply_to: EmailAddress | None = Field(
        default=None, description="Reply-To of every mail (default: none)."
    )
    support_email: EmailAddress | None = Field(
        default=None, description="Shown in every mail (default: MAIL_REPLY_TO, else MAIL_FROM)."
    )
    product_name: OneLine = Field(
        min_length=1, max_length=100, description="The product's name, in subjects and text."
    )
    app_url: WebUrl = Field(description="The app, linked from every mail.")
    billing_url: WebUrl | None = Field(
        default=None, description="Where a user updates their card (default: APP_URL)."
    )
    mail_locale: str = Field(
        default=_DEFAULT_LOCALE, description="Locale (CLDR) for amounts and dates in mails."
    )
    mail_claim_lease_seconds: int = Field(
        default=120,
        ge=30,
        le=3600,
        description="How long a delivery that claimed a notification may take to send it before "
        "another delivery may try.",
    )
    mail_dedupe_days: int = Field(
        default=30,
        ge=8,
        le=400,
        description="How long a sent notification is remembered (sent_emails TTL); longer than "
        "Pub/Sub keeps a message (7 days by default).",
    )

    @field_validator("mail_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value == _DEFAULT_LOCALE:
            return value  # known good: no need to load Babel's locale data at start
        from babel import Locale, UnknownLocaleError

        if not _LOCALE.match(value):
            raise ValueError(f"{value!r} is not a locale like en_US or de_DE")
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"{value!r} is not a locale Babel knows") from None
        return value

    @model_validator(mode="after")
    def _mail_settings_agree(self) -> Self:
        # A send is at most about ten commands (EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA,
        # the body...), each allowed SMTP_TIMEOUT: a claim must outlast the slowest send, or a
        # redelivery could take it over while the first is still sending.
        if self.smtp_connect_timeout + 10 * self.smtp_timeout > self.mail_claim_lease_seconds:
            raise ValueError(
                "MAIL_CLAIM_LEASE_SECONDS must be at least SMTP_CONNECT_TIMEOUT + 10 x "
                "SMTP_TIMEOUT (the longest a send can take)"
            )
        if (
            self.deployed
            and self.smtp_effective_security == "none"
            and self.smtp_password is not None
            and self.smtp_host not in _LOCAL_HOSTS
        ):
            raise ValueError(
                "SMTP_SECURITY=none with SMTP_PASSWORD in a deployed function would send the "
                "password unencrypted: use starttls or ssl"
            )
        if self.deployed:
            for name in ("app_url", "billing_url"):
                url = getattr(self, name)
                if url is not None and not url.startswith("https://"):
                    raise ValueError(f"{name.upper()} must be https:// in a deployed function")
        return self

    @property
    def smtp_effective_security(self) -> Literal["starttls", "ssl", "none"]:
        if self.smtp_security is not None:
            return self.smtp_security
        return "ssl" if self.smtp_port == 465 else "starttls"


def load_settings() -> MailSettings:
    """Mail settings from the environment, or a ConfigError naming each bad variable."""
    return MailSettings.load()
