"""Fixtures shared by every test: a clean environment and in-memory stand-ins for clients."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Helpers live in tests/support/; their asserts get pytest's messages too.
pytest.register_assert_rewrite("tests.support")

# The local stack's fixtures (one stack per session), shared by tests/integration and
# tests/reliability.
# pytester: a test that runs pytest on a test it writes (the browser artifacts' self-test).
pytest_plugins = ["tests.support.stack_fixtures", "pytester"]

from billing.config import BillingSettings  # noqa: E402  (after register_assert_rewrite)
from mailer.config import MailSettings  # noqa: E402
from tests.support.fakes import FakeVerifier, InMemoryCustomers  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    # Config is read from os.environ; a test that changes it must not leak into the next.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def settings() -> BillingSettings:
    return BillingSettings(
        google_cloud_project="demo-billing",
        stripe_secret_key="sk_test_unit",  # type: ignore[arg-type]  # pydantic coerces to SecretStr
        allowed_origins=["http://localhost:3000"],
        allowed_price_ids=["price_basic_monthly", "price_pro_monthly"],
        max_body_bytes=1024,
    )


MAIL_SETTINGS = {
    "google_cloud_project": "demo-billing",
    "smtp_host": "127.0.0.1",
    "smtp_security": "none",
    "mail_from": "billing@example.com",
    "mail_reply_to": "support@example.com",
    "product_name": "Acme Cloud",
    "app_url": "https://app.example.com",
    "billing_url": "https://app.example.com/settings/billing",
}


def mail_settings(**overrides: object) -> MailSettings:
    """BillingSettings of the email function, as a deployment would give them (none from the
    environment); a bad or missing one is a ConfigError naming it, as at start."""
    return MailSettings.load({}, **(MAIL_SETTINGS | overrides))


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def customers() -> InMemoryCustomers:
    return InMemoryCustomers()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/reliability/ is a reliability suite: `make reliability` runs them alone.
    for item in items:
        if "/tests/reliability/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many 429s the suites run with Stripe's contention on met (tests/support/contention)."""
    from tests.support.contention import MET

    if not MET:
        return
    terminalreporter.section("Stripe contention met")
    for suite, met in sorted(MET.items()):
        counts = ", ".join(f"{count} {code}" for code, count in sorted(met.items())) or "no 429"
        terminalreporter.write_line(f"{suite}: {counts}")
