"""The one place that builds clients: lazily, once per instance, shared across requests.

Domain code never reaches for a global client; it is handed a :class:`Runtime` (through the
request context), so tests build one with fakes or with clients pointed at emulators.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import stripe
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient

from billing import usage
from billing.auth import FirebaseTokenVerifier, TokenVerifier
from billing.config import Settings, load_settings
from billing.store import Customers, CustomerStore

T = TypeVar("T")


class CountingRequestsClient(stripe.RequestsClient):
    """stripe's requests-based client, counting each HTTP attempt (retries included)."""

    def request(  # type: ignore[override]  # stripe's own RequestsClient differs from its base
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        usage.count(usage.STRIPE)
        return super().request(method, url, headers, post_data)


def build_stripe(settings: Settings) -> stripe.StripeClient:
    settings.require("stripe_secret_key")
    assert settings.stripe_secret_key is not None
    kwargs: dict[str, Any] = {}
    if settings.stripe_api_base:
        kwargs["base_addresses"] = {"api": settings.stripe_api_base}
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        max_network_retries=settings.stripe_max_network_retries,
        http_client=CountingRequestsClient(
            timeout=(settings.stripe_connect_timeout, settings.stripe_read_timeout)
        ),
        **kwargs,
    )


class Runtime:
    """Settings plus lazily built, cached clients. Pass overrides to inject fakes."""

    def __init__(
        self,
        settings: Settings,
        *,
        stripe_client: stripe.StripeClient | None = None,
        firestore_client: firestore.Client | None = None,
        publisher: PublisherClient | None = None,
        verifier: TokenVerifier | None = None,
        customers: Customers | None = None,
    ) -> None:
        self.settings = settings
        self._lock = threading.RLock()  # building one client may need another
        self._cache: dict[str, object] = {
            name: value
            for name, value in (
                ("stripe", stripe_client),
                ("firestore", firestore_client),
                ("publisher", publisher),
                ("verifier", verifier),
                ("customers", customers),
            )
            if value is not None
        }

    def _get(self, name: str, build: Callable[[], T]) -> T:
        if name not in self._cache:
            with self._lock:
                if name not in self._cache:
                    self._cache[name] = build()
        return cast(T, self._cache[name])

    @property
    def stripe(self) -> stripe.StripeClient:
        return self._get("stripe", lambda: build_stripe(self.settings))

    @property
    def firestore(self) -> firestore.Client:
        return self._get(
            "firestore", lambda: firestore.Client(project=self.settings.google_cloud_project)
        )

    @property
    def publisher(self) -> PublisherClient:
        return self._get("publisher", PublisherClient)

    @property
    def customers(self) -> Customers:
        return self._get(
            "customers",
            lambda: CustomerStore(self.firestore, self.settings.firestore_timeout_seconds),
        )

    @property
    def verifier(self) -> TokenVerifier:
        return self._get(
            "verifier",
            lambda: FirebaseTokenVerifier(
                self.settings.google_cloud_project, emulated=self.settings.auth_emulated
            ),
        )


_instance: Runtime | None = None
_instance_lock = threading.Lock()


def current() -> Runtime:
    """This instance's runtime, built from the environment on first use."""
    global _instance  # one runtime per function instance, by design
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = Runtime(load_settings())
    return _instance
