"""The settings base every deployable stands on, and the annotated types their fields share.

Each deployable declares its own class on :class:`EnvSettings`: ``billing.config.BillingSettings``
and ``mailer.config.MailSettings``. A function loads only its deployable's class, so it validates
what it uses and nothing else: the email function starts without a Stripe key, a billing
function without an SMTP relay. A field that a deployable cannot run without is typed as
present (``str``, not ``str | None``); code reading it needs no narrowing.

Plain pydantic reads ``os.environ`` here instead of pydantic-settings: ``make bench-settings``
(benchmarks/settings_load.py) loads the same classes both ways side by side, and pydantic-settings
costs every cold start its own import (it pulls in asyncio, dotenv and its sources) for features
no function uses (``.env`` files, secrets dirs, nested models). Names are matched without regard
to case, as pydantic-settings did: field ``smtp_host`` is ``SMTP_HOST``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError


class ConfigError(Exception):
    """A setting is missing or malformed; raised at start so the instance never serves."""


def split_commas(value: object) -> object:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: how a list arrives in one environment variable."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# An address as mail headers and SMTP take it without SMTPUTF8: an ASCII dot-atom local part
# and a host name (IDN domains are given in their ASCII form, xn--...).
EMAIL_ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s\"'<>\\]*)?$")


def _email_address(value: str) -> str:
    if not EMAIL_ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an email address like billing@example.com")
    return value


def _web_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"{value!r} is not a URL like https://app.example.com/billing")
    return value


def _one_line(value: str) -> str:
    if not value.strip() or any(ord(c) < 32 for c in value):
        raise ValueError("must be one line of text")
    return value


# Reusable field types: each says what a valid value is, once, for every deployable.
CommaList = Annotated[list[str], BeforeValidator(split_commas)]
ProjectId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
EmailAddress = Annotated[str, AfterValidator(_email_address)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
OneLine = Annotated[str, AfterValidator(_one_line)]
HostName = Annotated[str, Field(pattern=r"^[A-Za-z0-9.:-]+$")]
ReturnUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def describe(exc: ValidationError) -> str:
    """One line naming each bad variable, never echoing a value (it may be a secret)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required but not set"
        problems.append(f"{name}: {message}")
    return "Invalid configuration: " + "; ".join(problems)


class EnvSettings(BaseModel):
    """What every function reads: its project, its log level, and how long Firestore may take."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    google_cloud_project: ProjectId = Field(
        description="GCP / Firebase project id; ID tokens must be issued for it."
    )
    log_level: LogLevel = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    firestore_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="How long one Firestore call (retries included) may take before it fails.",
    )
    firestore_emulator_host: str | None = Field(
        default=None, description="host:port of the Firestore emulator (local runs only)."
    )
    # Cloud Run (and so every 2nd gen function) sets K_SERVICE; nothing local does.
    k_service: str | None = Field(
        default=None, description="Set by Cloud Run in a deployed function; never set it yourself."
    )

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, /, **values: Any) -> Self:
        """The settings from ``environ`` (default ``os.environ``), ``values`` taking precedence;
        or a :class:`ConfigError` naming each bad variable."""
        source = os.environ if environ is None else environ
        by_name = {key.lower(): value for key, value in source.items()}
        found = {name: by_name[name] for name in cls.model_fields if name in by_name}
        try:
            return cls.model_validate(found | values)
        except ValidationError as exc:
            raise ConfigError(describe(exc)) from None

    @property
    def deployed(self) -> bool:
        return bool(self.k_service)

    def require(self, *names: str) -> None:
        """Fail, naming every missing setting, unless all of ``names`` are set."""
        error = missing_settings(self, *names)
        if error.missing:
            raise error


class MissingSettings(ConfigError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"Missing required setting(s): {', '.join(missing)}")
        self.missing = missing


def missing_settings(settings: BaseModel, *names: str) -> MissingSettings:
    """The error naming which of ``names`` are unset (empty when all are set), to raise."""
    return MissingSettings(
        [name.upper() for name in names if getattr(settings, name) in (None, [], "")]
    )
