"""An in-process Stripe stand-in on a free port, driven with the real stripe SDK."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import stripe
from stripe.params import SubscriptionCreateParams
from werkzeug.serving import BaseWSGIServer

from devstack.stripe_standin import Standin, StandinConfig, create_app
from devstack.stripe_standin.serving import serve
from tests.support.stack import PATIENCE_S


@dataclass
class StandinServer:
    url: str
    standin: Standin
    server: BaseWSGIServer

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        # A clock advance runs every renewal due: on a loaded machine that takes a while.
        response = requests.request(method, f"{self.url}{path}", json=body, timeout=PATIENCE_S)
        response.raise_for_status()
        return response.json()

    def requests(self, **filters: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/_standin/requests", params=filters, timeout=10)
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def fault(self, **rule: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "/_standin/faults", rule)
        return result

    def advance(self, seconds: int) -> dict[str, Any]:
        result: dict[str, Any] = self.control(
            "POST", "/_standin/clock/advance", {"seconds": seconds}
        )
        return result

    def client(self, api_key: str = "sk_test_standin", **options: Any) -> stripe.StripeClient:
        options.setdefault("max_network_retries", 2)
        options.setdefault("http_client", stripe.RequestsClient(timeout=(5, 30)))
        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, **options)


@contextmanager
def serving(config: StandinConfig, name: str) -> Iterator[StandinServer]:
    """A stand-in with ``config`` on a free local port, in a thread, until the block ends."""
    standin = Standin(config)
    server = serve("127.0.0.1", 0, create_app(standin=standin))
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield StandinServer(f"http://127.0.0.1:{server.server_port}", standin, server)
    finally:
        server.shutdown()
        server.server_close()
        standin.close()
        thread.join(5)


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandinServer]:
    with serving(StandinConfig(webhook_backoff_s=0.05, webhook_timeout_s=2.0), "standin") as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_controls(standin_server: StandinServer) -> Iterator[None]:
    """Faults, latency and webhook settings are server-wide: leave them as found."""
    yield
    standin_server.control("DELETE", "/_standin/faults")
    standin_server.control("POST", "/_standin/webhooks/resume")
    standin_server.control(
        "POST",
        "/_standin/config",
        {
            "latency_ms": 0,
            "webhook_url": None,
            "webhook_max_attempts": 5,
            "webhook_payload": "snapshot",
            "retry_schedule_days": [3, 5, 7],
            "dunning_end": "canceled",
            "lock_timeout_ms": 0,
            "rate_limits": False,
        },
    )


@pytest.fixture
def client(standin_server: StandinServer) -> stripe.StripeClient:
    return standin_server.client()


@pytest.fixture
def email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


def wait_for[T](check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds, at least
    :data:`PATIENCE_S` (the deadline bounds only a failure: a loaded machine is slow, not wrong)."""
    timeout = max(timeout, PATIENCE_S)
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def intent_id(client_secret: str) -> str:
    return client_secret.split("_secret_")[0]


def save_card(client: stripe.StripeClient, customer: str, card: str) -> stripe.PaymentMethod:
    """Attaches a test card the way the product does: a SetupIntent confirmed with it."""
    si = client.v1.setup_intents.create(
        {"customer": customer, "payment_method": card, "confirm": True}
    )
    assert si.status == "succeeded", si.status
    assert isinstance(si.payment_method, str)
    return client.v1.payment_methods.retrieve(si.payment_method)


def active_subscription(
    client: stripe.StripeClient, email: str, *prices: str, **extra: Any
) -> stripe.Subscription:
    """A new customer paying by a Visa card, subscribed (and charged) to ``prices``."""
    customer = client.v1.customers.create(
        {
            "email": email,
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    params: SubscriptionCreateParams = {
        "customer": customer.id,
        "items": [{"price": price} for price in prices],
        "payment_behavior": "allow_incomplete",
    }
    params.update(extra)  # type: ignore[typeddict-item]
    sub = client.v1.subscriptions.create(params)
    assert sub.status == "active"
    return sub
