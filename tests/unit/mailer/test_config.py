"""The email function's settings are validated at start and every problem names its variable."""

from __future__ import annotations

import pytest

from core.settings import ConfigError
from mailer.config import load_settings

BASE = {
    "GOOGLE_CLOUD_PROJECT": "demo-billing",
    "SMTP_HOST": "smtp.example.com",
    "MAIL_FROM": "billing@example.com",
    "PRODUCT_NAME": "Acme Cloud",
    "APP_URL": "https://app.example.com",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("MAIL_FROM", "billing at example.com", "MAIL_FROM: 'billing at example.com' is not an"),
        ("MAIL_REPLY_TO", "a@b.com\r\nBcc: x@y.com", "MAIL_REPLY_TO"),
        ("SUPPORT_EMAIL", "<support@example.com>", "SUPPORT_EMAIL"),
        ("APP_URL", "app.example.com", "APP_URL: 'app.example.com' is not a URL"),
        ("BILLING_URL", "javascript:alert(1)", "BILLING_URL"),
        ("PRODUCT_NAME", "Acme\r\nBcc: x@y.com", "PRODUCT_NAME: must be one line"),
        ("MAIL_LOCALE", "xx_YY", "MAIL_LOCALE: 'xx_YY' is not a locale Babel knows"),
        ("MAIL_LOCALE", "english", "MAIL_LOCALE"),
        ("SMTP_SECURITY", "tls", "SMTP_SECURITY"),
        ("SMTP_PORT", "0", "SMTP_PORT"),
        ("MAIL_DEDUPE_DAYS", "3", "MAIL_DEDUPE_DAYS"),
        ("SMTP_TIMEOUT", "60", "MAIL_CLAIM_LEASE_SECONDS must be at least"),
    ],
)
def test_bad_mail_settings_fail_naming_the_variable(
    env: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("port", "security", "effective"),
    [
        ("465", None, "ssl"),
        ("587", None, "starttls"),
        ("25", None, "starttls"),
        ("2525", "none", "none"),
    ],
)
def test_smtp_security_defaults_from_the_port(
    env: pytest.MonkeyPatch, port: str, security: str | None, effective: str
) -> None:
    env.setenv("SMTP_PORT", port)
    if security is not None:
        env.setenv("SMTP_SECURITY", security)
    assert load_settings().smtp_effective_security == effective


def _deployed(env: pytest.MonkeyPatch, service: str) -> None:
    """As in the cloud: K_SERVICE set."""
    env.setenv("K_SERVICE", service)


def test_a_deployed_function_refuses_to_send_a_password_unencrypted(
    env: pytest.MonkeyPatch,
) -> None:
    _deployed(env, "send-email")
    env.setenv("SMTP_SECURITY", "none")
    env.setenv("SMTP_PASSWORD", "relay-password-value")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "SMTP_SECURITY=none" in str(caught.value)
    assert "relay-password-value" not in str(caught.value)
    env.setenv("SMTP_SECURITY", "starttls")
    load_settings()


def test_a_deployed_function_links_only_to_https(env: pytest.MonkeyPatch) -> None:
    _deployed(env, "send-email")
    env.setenv("APP_URL", "http://app.example.com")
    with pytest.raises(ConfigError, match="APP_URL must be https"):
        load_settings()


@pytest.mark.parametrize("name", ["SMTP_HOST", "MAIL_FROM", "PRODUCT_NAME", "APP_URL"])
def test_the_email_function_cannot_start_without_what_every_mail_needs(
    env: pytest.MonkeyPatch, name: str
) -> None:
    env.delenv(name)
    with pytest.raises(ConfigError, match=f"{name}: is required"):
        load_settings()


def test_the_email_function_needs_no_stripe_setting(env: pytest.MonkeyPatch) -> None:
    # Billing's settings are not the email function's: a bad one there does not stop it.
    env.setenv("STRIPE_SECRET_KEY", "not-a-key")
    env.setenv("ALLOWED_ORIGINS", "*")
    settings = load_settings()
    assert (settings.smtp_host, settings.product_name) == ("smtp.example.com", "Acme Cloud")
