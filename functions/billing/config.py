"""All configuration, read from the environment in one place and validated at start.

Secrets (the Stripe key, the webhook signing secret, the SMTP password) arrive as environment
variables that Cloud Functions fills from Secret Manager; locally they come from
``.env.example``/``.env``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from billing.errors import ConfigError
from billing.statuses import ALL_STATUSES, DEFAULT_ACCESS_STATUSES

_PRICE_ID = re.compile(r"^price_[A-Za-z0-9_]+$")
_RETURN_URL = r"^https?://[^\s/]+(/\S*)?$"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
# An address as mail headers and SMTP take it without SMTPUTF8: an ASCII dot-atom local part
# and a host name (IDN domains are given in their ASCII form, xn--...).
EMAIL_ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s\"'<>\\]*)?$")
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_\d{3})?$")
_DEFAULT_LOCALE = "en_US"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

CommaList = Annotated[list[str], NoDecode]


def _split(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    google_cloud_project: str = Field(
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
        description="GCP / Firebase project id; ID tokens must be issued for it.",
    )
    stripe_secret_key: SecretStr | None = Field(
        default=None, description="sk_test_/sk_live_/rk_ key; from Secret Manager in the cloud."
    )
    stripe_api_base: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+$",
        description="Local Stripe stand-in base URL (tests and offline runs only).",
    )
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated webhook signing secrets (whsec_...); several while one is "
        "rolled. From Secret Manager in the cloud.",
    )
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=10, le=3600)
    max_webhook_body_bytes: int = Field(default=524_288, ge=4096, le=10_485_760)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)
    stripe_connect_timeout: float = Field(default=5.0, gt=0, le=30)
    stripe_read_timeout: float = Field(default=30.0, gt=0, le=80)

    allowed_origins: CommaList = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS."
    )
    allowed_price_ids: CommaList = Field(
        default_factory=list, description="Comma-separated Stripe price ids the app sells."
    )
    checkout_success_url: str | None = Field(
        default=None,
        pattern=_RETURN_URL,
        description="Where Checkout sends the browser after paying; Stripe replaces "
        "{CHECKOUT_SESSION_ID} in it.",
    )
    checkout_cancel_url: str | None = Field(
        default=None, pattern=_RETURN_URL, description="Where Checkout's back link goes."
    )
    portal_return_url: str | None = Field(
        default=None, pattern=_RETURN_URL, description="Where the billing portal returns to."
    )
    firestore_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    trial_days: int = Field(default=0, ge=0, le=730)
    require_verified_email: bool = Field(
        default=True, description="Only users whose token says email_verified get a customer."
    )
    max_body_bytes: int = Field(default=16_384, ge=256, le=1_048_576)
    body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="A request body (browser or webhook) not fully arrived by then is refused "
        "with 408; a slow client holds a worker thread at most this long.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_statuses: CommaList = Field(
        default_factory=lambda: list(DEFAULT_ACCESS_STATUSES),
        description="Subscription statuses that grant access (entitlements/{uid}.active).",
    )
    past_due_grace_days: int = Field(
        default=7,
        ge=0,
        le=60,
        description="Days a past_due subscription keeps access after its invoice fell due "
        "(when past_due is in ACCESS_STATUSES).",
    )
    entitlement_claims: bool = Field(
        default=True,
        description="Also write each user's entitlement as the `billing` custom claim of their "
        "Firebase user (in their ID token).",
    )
    auth_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long a Firebase Auth call may take before 503."
    )
    pubsub_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long a publish may take before 503."
    )
    notifications_topic: str = Field(
        default="billing-notifications", pattern=r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$"
    )

    # The metering function (billing.usage): the topic the app's backends report usage to.
    usage_topic: str = Field(
        default="billing-usage",
        pattern=r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$",
        description="Pub/Sub topic of usage reports (schemas/usage.v1.json).",
    )
    metering_lease_seconds: int = Field(
        default=60,
        ge=15,
        le=3600,
        description="How long a delivery that claimed a usage may take to record it in Stripe "
        "before another delivery may try.",
    )
    metering_keep_days: int = Field(
        default=40,
        ge=36,
        le=400,
        description="How long a usage id is remembered (metered_usage TTL): longer than Pub/Sub "
        "keeps a message (31 days at most) and than Stripe takes an event's timestamp (35 days).",
    )

    # The email function (functions/mailer): its relay, its sender and what its mails link to.
    smtp_host: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9.:-]+$", description="SMTP relay host name."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
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
    smtp_connect_timeout: float = Field(default=10.0, gt=0, le=60)
    smtp_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Per SMTP command once connected."
    )
    mail_from: str | None = Field(default=None, description="Sender address (envelope and From).")
    mail_from_name: str | None = Field(
        default=None, max_length=100, description="Sender display name (default: PRODUCT_NAME)."
    )
    mail_reply_to: str | None = None
    support_email: str | None = Field(
        default=None, description="Shown in every mail (default: MAIL_REPLY_TO, else MAIL_FROM)."
    )
    product_name: str | None = Field(default=None, min_length=1, max_length=100)
    app_url: str | None = Field(default=None, description="The app, linked from every mail.")
    billing_url: str | None = Field(
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

    firebase_auth_emulator_host: str | None = None
    firestore_emulator_host: str | None = None
    # Cloud Run (and so every 2nd gen function) sets K_SERVICE; nothing local does.
    k_service: str | None = None

    @field_validator("access_statuses")
    @classmethod
    def _known_statuses(cls, statuses: list[str]) -> list[str]:
        unknown = sorted(set(statuses) - ALL_STATUSES)
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not Stripe subscription statuses")
        return statuses

    @field_validator("allowed_origins", "allowed_price_ids", "access_statuses", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        if "*" in origins:
            raise ValueError("'*' is not allowed: list the frontend's origins")
        return origins

    @field_validator("allowed_price_ids")
    @classmethod
    def _prices_are_price_ids(cls, prices: list[str]) -> list[str]:
        for price in prices:
            if not _PRICE_ID.match(price):
                raise ValueError(f"{price!r} is not a Stripe price id (price_...)")
        return prices

    @field_validator("stripe_secret_key")
    @classmethod
    def _stripe_key_shape(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not re.match(
            r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$", key.get_secret_value()
        ):
            # Never echo the value: it is a secret even when malformed.
            raise ValueError("must be a Stripe secret or restricted key (sk_test_..., sk_live_...)")
        return key

    @field_validator("stripe_webhook_secrets", mode="before")
    @classmethod
    def _secrets_comma_separated(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return _split(value)

    @field_validator("stripe_webhook_secrets")
    @classmethod
    def _webhook_secret_shape(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for secret in secrets:
            if not secret.get_secret_value().startswith("whsec_"):
                # Never echo the value: it is a secret even when malformed.
                raise ValueError("each must be a Stripe webhook signing secret (whsec_...)")
        return secrets

    @field_validator("mail_from", "mail_reply_to", "support_email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_ADDRESS.match(value):
            raise ValueError(f"{value!r} is not an email address like billing@example.com")
        return value

    @field_validator("app_url", "billing_url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError(f"{value!r} is not a URL like https://app.example.com/billing")
        return value

    @field_validator("mail_from_name", "product_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(ord(c) < 32 for c in value)):
            raise ValueError("must be one line of text")
        return value

    @field_validator("mail_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value == _DEFAULT_LOCALE:
            return value  # known good; every function validates defaults, few need Babel
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
            self.k_service
            and self.smtp_effective_security == "none"
            and self.smtp_password is not None
            and self.smtp_host not in _LOCAL_HOSTS
        ):
            raise ValueError(
                "SMTP_SECURITY=none with SMTP_PASSWORD in a deployed function would send the "
                "password unencrypted: use starttls or ssl"
            )
        if self.k_service:
            for name in ("app_url", "billing_url"):
                url = getattr(self, name)
                if url is not None and not url.startswith("https://"):
                    raise ValueError(f"{name.upper()} must be https:// in a deployed function")
        return self

    @model_validator(mode="after")
    def _no_local_shortcuts_when_deployed(self) -> Self:
        if self.k_service and self.firebase_auth_emulator_host:
            raise ValueError(
                "FIREBASE_AUTH_EMULATOR_HOST is set in a deployed function (K_SERVICE is set): "
                "it makes token verification accept unsigned tokens"
            )
        if self.k_service and self.stripe_api_base:
            raise ValueError(
                "STRIPE_API_BASE (the local Stripe stand-in) is set in a deployed function"
            )
        for name in ("checkout_success_url", "checkout_cancel_url", "portal_return_url"):
            url = getattr(self, name)
            if self.k_service and url and not url.startswith("https://"):
                raise ValueError(f"{name.upper()} must be an https:// URL in a deployed function")
        if self.stripe_api_base and self.stripe_key_is_live:
            raise ValueError(
                "STRIPE_API_BASE points at a stand-in but STRIPE_SECRET_KEY is a live key"
            )
        return self

    @property
    def stripe_key_is_live(self) -> bool:
        key = self.stripe_secret_key
        return key is not None and "_live_" in key.get_secret_value()

    @property
    def smtp_effective_security(self) -> Literal["starttls", "ssl", "none"]:
        if self.smtp_security is not None:
            return self.smtp_security
        return "ssl" if self.smtp_port == 465 else "starttls"

    @property
    def auth_emulated(self) -> bool:
        return bool(self.firebase_auth_emulator_host)

    def require(self, *names: str) -> None:
        """Fail, naming every missing setting, unless all of ``names`` are set."""
        missing = [name.upper() for name in names if getattr(self, name) in (None, [], "")]
        if missing:
            raise ConfigError(f"Missing required setting(s): {', '.join(missing)}")


def load_settings() -> Settings:
    """Settings from the environment, or a ConfigError naming each bad variable."""
    try:
        return Settings()  # type: ignore[call-arg]  # pydantic-settings fills fields from env
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "is required but not set"
            problems.append(f"{name}: {message}")
        raise ConfigError("Invalid configuration: " + "; ".join(problems)) from None
