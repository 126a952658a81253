"""The billing functions' settings (every function of ``billing``; the email function has its own).

Secrets (the Stripe key, the webhook signing secrets) arrive as environment variables that Cloud
Functions fills from Secret Manager; locally they come from ``.env.example``/``.env``. Settings
only some billing functions need (the hosted pages' return URLs, the webhook secrets, the price
allowlist) are optional here and required at start by the function's registry row; the code
that reads one gets it through an accessor typed as present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from billing.statuses import ALL_STATUSES, DEFAULT_ACCESS_STATUSES
from core.settings import CommaList, EnvSettings, ReturnUrl, missing_settings, split_commas

_PRICE_ID = re.compile(r"^price_[A-Za-z0-9_]+$")


def _metered_prices(raw: object) -> object:
    """``price_a=price_m1+price_m2,price_b=price_m3`` -> {price_a: [m1, m2], price_b: [m3]}."""
    if not isinstance(raw, str):
        return raw
    pairs: dict[str, list[str]] = {}
    for entry in [e.strip() for e in raw.split(",") if e.strip()]:
        plan, sep, metered = entry.partition("=")
        prices = [plan, *metered.split("+")]
        if not sep or not all(_PRICE_ID.match(p) for p in prices):
            raise ValueError(f"{entry!r} is not price_plan=price_metered[+price_metered...]")
        if plan in pairs:
            raise ValueError(f"{plan!r} is listed twice")
        pairs[plan] = prices[1:]
    return pairs


MeteredPrices = Annotated[dict[str, list[str]], BeforeValidator(_metered_prices)]
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
# Matched whole (``fullmatch``): ``$`` would also match before a trailing newline, and a key
# pasted into Secret Manager with one ("echo ... | gcloud secrets versions add") would pass, then
# make every Stripe call fail on an invalid Authorization header.
_STRIPE_KEY = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9_]+")


def _stripe_key(key: SecretStr) -> SecretStr:
    if not _STRIPE_KEY.fullmatch(key.get_secret_value()):
        # Never echo the value: it is a secret even when malformed.
        raise ValueError("must be a Stripe secret or restricted key (sk_test_..., sk_live_...)")
    return key


def _secrets_split(value: object) -> object:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return split_commas(value)


def _webhook_secrets(secrets: list[SecretStr]) -> list[SecretStr]:
    for secret in secrets:
        if not secret.get_secret_value().startswith("whsec_"):
            # Never echo the value: it is a secret even when malformed.
            raise ValueError("each must be a Stripe webhook signing secret (whsec_...)")
    return secrets


StripeKey = Annotated[SecretStr, AfterValidator(_stripe_key)]
WebhookSecrets = Annotated[
    list[SecretStr], BeforeValidator(_secrets_split), AfterValidator(_webhook_secrets)
]


@dataclass(frozen=True)
class CheckoutPages:
    """Where Stripe Checkout sends the browser: both set, or the function does not start."""

    success_url: str
    cancel_url: str


class BillingSettings(EnvSettings):
    stripe_secret_key: StripeKey = Field(
        description="sk_test_/sk_live_/rk_ key; from Secret Manager in the cloud."
    )
    stripe_mode: Literal["test", "live"] | None = Field(
        default=None,
        description="The Stripe mode this deployment is (Terraform sets it from stripe.mode); "
        "a STRIPE_SECRET_KEY of the other mode is refused at start.",
    )
    stripe_api_base: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+$",
        description="Local Stripe stand-in base URL (tests and offline runs only).",
    )
    stripe_webhook_secrets: WebhookSecrets = Field(
        default_factory=list,
        description="Comma-separated webhook signing secrets (whsec_...); several while one is "
        "rolled. From Secret Manager in the cloud.",
    )
    stripe_webhook_tolerance_seconds: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="How old a webhook's Stripe-Signature timestamp may be (replay window).",
    )
    max_webhook_body_bytes: int = Field(
        default=524_288, ge=4096, le=10_485_760, description="Largest accepted webhook body."
    )
    stripe_max_network_retries: int = Field(
        default=2, ge=0, le=5, description="Retries of a Stripe call that failed on the network."
    )
    stripe_connect_timeout: float = Field(
        default=5.0, gt=0, le=30, description="Seconds to connect to Stripe."
    )
    stripe_read_timeout: float = Field(
        default=30.0, gt=0, le=80, description="Seconds to wait for Stripe's answer."
    )

    allowed_origins: CommaList = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS."
    )
    allowed_price_ids: CommaList = Field(
        default_factory=list,
        description="Comma-separated Stripe price ids the app sells: the catalog's offered "
        "prices (set by Terraform from the ids Stripe gave them; locally, the stand-in's).",
    )
    metered_price_ids: MeteredPrices = Field(
        default_factory=dict,
        description="The metered prices that come with each plan: comma-separated "
        "`price_plan=price_metered` (several metered prices joined by `+`, in the catalog's "
        "meter order); set by Terraform from the catalog's `metered_prices` and the ids Stripe "
        "gave them, locally the stand-in's.",
    )
    checkout_success_url: ReturnUrl | None = Field(
        default=None,
        description="Where Checkout sends the browser after paying; Stripe replaces "
        "{CHECKOUT_SESSION_ID} in it.",
    )
    checkout_cancel_url: ReturnUrl | None = Field(
        default=None, description="Where Checkout's back link goes."
    )
    portal_return_url: ReturnUrl | None = Field(
        default=None, description="Where the billing portal returns to."
    )
    trial_days: int = Field(
        default=0,
        ge=0,
        le=730,
        description="Free trial of a customer's first subscription, in days (0: none).",
    )
    downgrade_policy: Literal["immediately", "period_end"] = Field(
        default="immediately",
        description="When a downgrade (a plan whose yearly amount, its price times its periods "
        "a year, is lower) takes effect: `immediately`, the unused time credited to the "
        "customer's balance; `period_end`, the current plan runs to its period end and the new "
        "one starts then (a Stripe subscription schedule), nothing charged or credited. Equal "
        "amounts and upgrades always change at once.",
    )
    portal_configuration_id: str | None = Field(
        default=None,
        pattern=r"^bpc_[A-Za-z0-9_]+$",
        description="The billing portal configuration portal sessions use (Terraform makes it "
        "from the catalog, limited to the offered prices); unset: the account's default.",
    )
    require_verified_email: bool = Field(
        default=True, description="Only users whose token says email_verified get a customer."
    )
    max_body_bytes: int = Field(
        default=16_384, ge=256, le=1_048_576, description="Largest accepted request body."
    )
    body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="A request body (browser or webhook) not fully arrived by then is refused "
        "with 408; a slow client holds a worker thread at most this long.",
    )
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
    pricing_cache_seconds: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How long list-plans keeps Stripe's catalog (and browsers may cache it).",
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
        default="billing-notifications",
        pattern=r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$",
        description="Pub/Sub topic the webhook publishes notifications to.",
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
    firebase_auth_emulator_host: str | None = Field(
        default=None, description="host:port of the Firebase Auth emulator (local runs only)."
    )
    # Job functions (reconcile): who may start a run (billing.job_auth).
    job_invoker_email: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{4,29}@[a-z0-9.-]+\.gserviceaccount\.com$",
        description="The service account whose OIDC token may start a job: the job's Cloud "
        "Scheduler invoker (Terraform sets it; the local stack, its stand-in scheduler's).",
    )
    job_token_public_key: str | None = Field(
        default=None,
        description="PEM public key the local stack signs its scheduler tokens with (local runs "
        "only: deployed, Cloud Run checks Google's signature before the function runs).",
    )

    @field_validator("access_statuses")
    @classmethod
    def _known_statuses(cls, statuses: list[str]) -> list[str]:
        unknown = sorted(set(statuses) - ALL_STATUSES)
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not Stripe subscription statuses")
        return statuses

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

    @model_validator(mode="after")
    def _no_local_shortcuts_when_deployed(self) -> Self:
        if self.deployed and self.firebase_auth_emulator_host:
            raise ValueError(
                "FIREBASE_AUTH_EMULATOR_HOST is set in a deployed function (K_SERVICE is set): "
                "it makes token verification accept unsigned tokens"
            )
        if self.deployed and self.job_token_public_key:
            raise ValueError(
                "JOB_TOKEN_PUBLIC_KEY (the local stack's scheduler key) is set in a deployed "
                "function: a job would accept tokens that key signs"
            )
        if self.deployed and self.stripe_api_base:
            raise ValueError(
                "STRIPE_API_BASE (the local Stripe stand-in) is set in a deployed function"
            )
        for name in ("checkout_success_url", "checkout_cancel_url", "portal_return_url"):
            url = getattr(self, name)
            if self.deployed and url and not url.startswith("https://"):
                raise ValueError(f"{name.upper()} must be an https:// URL in a deployed function")
        # A key added by hand to Secret Manager could be the other mode's: a live key in the
        # test deployment (real charges from test traffic) or the reverse.
        if self.stripe_mode is not None and self.stripe_key_is_live != (self.stripe_mode == "live"):
            key_mode = "live" if self.stripe_key_is_live else "test"
            raise ValueError(
                f"STRIPE_SECRET_KEY is a {key_mode} mode key but STRIPE_MODE is {self.stripe_mode}"
            )
        if self.stripe_api_base and self.stripe_key_is_live:
            raise ValueError(
                "STRIPE_API_BASE points at a stand-in but STRIPE_SECRET_KEY is a live key"
            )
        return self

    @property
    def stripe_key_is_live(self) -> bool:
        return "_live_" in self.stripe_secret_key.get_secret_value()

    @property
    def auth_emulated(self) -> bool:
        return bool(self.firebase_auth_emulator_host)

    def job_invoker(self) -> str:
        """The account whose token may start a job (required at start by job functions)."""
        if self.job_invoker_email is None:
            raise missing_settings(self, "job_invoker_email")
        return self.job_invoker_email

    def checkout_pages(self) -> CheckoutPages:
        """Both Checkout return URLs (required at start by the functions that use them)."""
        success, cancel = self.checkout_success_url, self.checkout_cancel_url
        if success is None or cancel is None:
            raise missing_settings(self, "checkout_success_url", "checkout_cancel_url")
        return CheckoutPages(success, cancel)

    def portal_return(self) -> str:
        """Where the billing portal returns to (required at start by the portal function)."""
        if self.portal_return_url is None:
            raise missing_settings(self, "portal_return_url")
        return self.portal_return_url


def load_settings() -> BillingSettings:
    """Billing settings from the environment, or a ConfigError naming each bad variable."""
    return BillingSettings.load()
