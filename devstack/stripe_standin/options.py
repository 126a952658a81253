"""Run-time settings of the stand-in; most can be changed through ``POST /_standin/config``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from billing.catalog import CATALOG_PATH

API_VERSION = "2026-10-28.endive"
# The app's one catalog (the same file Terraform creates in Stripe), plus the stand-in's
# test-only fixtures (seeding.py).
DEFAULT_CATALOG = CATALOG_PATH
DEFAULT_FIXTURES = Path(__file__).with_name("fixtures.json")


@dataclass
class StandinConfig:
    webhook_url: str | None = None
    webhook_secret: str | None = None
    latency_ms: int = 0
    webhook_max_attempts: int = 5
    webhook_backoff_s: float = 0.5
    webhook_timeout_s: float = 10.0
    # An event destination's payload style: "snapshot" (the object, versioned) or "thin" (a
    # reference to fetch; https://docs.stripe.com/event-destinations#thin-events).
    webhook_payload: str = "snapshot"
    # The account's revenue-recovery settings (dunning.py): days between a failed renewal's
    # attempts, and the subscription's status once every retry failed.
    retry_schedule_days: tuple[int, ...] = (3, 5, 7)
    # Contention (contention.py), off unless a test about concurrency turns it on: a write
    # waits at most this long for an object another write holds, then answers 429 lock_timeout
    # (0: no object locks, every request simply runs in turn).
    lock_timeout_ms: int = 0
    # Test mode's rate limits: 25 reads and 25 writes a second, 10 new invoices a minute and 20
    # a day per subscription.
    rate_limits: bool = False
    dunning_end: str = "canceled"
    catalog_path: Path = DEFAULT_CATALOG
    fixtures_path: Path | None = DEFAULT_FIXTURES
    # The billing portal configuration a deploy's Terraform saves from the catalog's ``portal``
    # (infra/stripe.tf). False starts as a fresh Stripe account does: with none, so portal
    # sessions are refused (resources/billing_portal.py).
    portal_configuration: bool = True
    # The account's public business name, which Stripe's Checkout page shows at its top
    # ("You can change a Checkout page's name by modifying the Public business name field in
    # public settings": https://stripe.com/docs/payments/checkout/customization).
    business_name: str = "Acme Cloud"
