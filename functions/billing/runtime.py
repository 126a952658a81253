"""The one place that builds clients: lazily, once per instance, shared across requests.

Domain code never reaches for a global client; it is handed a :class:`Runtime` (through the
request context), so tests build one with fakes or with clients pointed at emulators.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from billing.config import BillingSettings, load_settings

# Each client's library is imported when the client is first built, so a function imports
# only the libraries it uses (the email function never loads Stripe or the token verifier);
# those of the Stripe and Firestore clients, which every request of a function builds on,
# are imported while the instance starts (import_client_libraries).
if TYPE_CHECKING:
    import stripe
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

    from billing.auth import TokenVerifier
    from billing.identity_toolkit import AuthUsers
    from billing.state.customers import Customers

T = TypeVar("T")


def import_client_libraries(*, firestore: bool) -> None:
    """Imports now what building the clients will import: the Stripe client's module and, with
    ``firestore``, google-cloud-firestore with the customer store every signed-in call, the
    webhook and the job read. ``app.registry`` calls it while an instance starts, so that the
    import (~250 ms of CPU for Firestore's) is part of the start and not of the first request:
    an instance already running (a minimum instance) answers its first call without it.
    Import only, never a client: functions-framework's gunicorn forks the serving worker after
    the app is loaded, and a gRPC channel made before a fork must not be used after it."""
    import billing.stripe_api.client

    if firestore:
        import billing.state.customers  # noqa: F401 - imports google.cloud.firestore


def build_stripe(settings: BillingSettings) -> stripe.StripeClient:
    from billing.stripe_api.client import build

    return build(settings)


def build_firestore(settings: BillingSettings) -> firestore.Client:
    from core import firestore as shared

    return shared.client(settings.google_cloud_project)


def build_publisher(settings: BillingSettings) -> PublisherClient:
    from google.api_core import retry
    from google.cloud.pubsub_v1 import PublisherClient
    from google.cloud.pubsub_v1.types import BatchSettings, PublisherOptions

    # Bounded like every other call: a publish that cannot reach Pub/Sub fails within the
    # setting (the webhook answers 503 and Stripe retries) instead of retrying for minutes
    # in the background. Messages go out at once: the webhook waits for each one.
    timeout = settings.pubsub_timeout_seconds
    return PublisherClient(
        batch_settings=BatchSettings(max_messages=1),
        publisher_options=PublisherOptions(
            retry=retry.Retry(predicate=retry.if_transient_error, timeout=timeout),
            timeout=timeout,
        ),
    )


class Runtime:
    """BillingSettings plus lazily built, cached clients. Pass overrides to inject fakes."""

    def __init__(
        self,
        settings: BillingSettings,
        *,
        stripe_client: stripe.StripeClient | None = None,
        firestore_client: firestore.Client | None = None,
        publisher: PublisherClient | None = None,
        verifier: TokenVerifier | None = None,
        customers: Customers | None = None,
        auth_users: AuthUsers | None = None,
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
                ("auth_users", auth_users),
            )
            if value is not None
        }

    def _get(self, name: str, build: Callable[[], T]) -> T:
        if name not in self._cache:
            with self._lock:
                if name not in self._cache:
                    self._cache[name] = build()
        return cast(T, self._cache[name])

    def held(self, name: str, build: Callable[[], T]) -> T:
        """An object this runtime keeps for its lifetime, built on first use: state that
        belongs to one configuration, such as a cache of what its Stripe account answered
        (list-plans' catalog). Held here rather than in a module global, it is never served
        to another runtime in the same process (a test that builds two apps against two
        stand-ins whose catalogs use the same price ids, or settings reloaded into a new
        runtime). ``name`` must not be a client's name."""
        return self._get(f"held:{name}", build)

    @property
    def stripe(self) -> stripe.StripeClient:
        return self._get("stripe", lambda: build_stripe(self.settings))

    @property
    def firestore(self) -> firestore.Client:
        return self._get("firestore", lambda: build_firestore(self.settings))

    @property
    def publisher(self) -> PublisherClient:
        return self._get("publisher", lambda: build_publisher(self.settings))

    @property
    def customers(self) -> Customers:
        from billing.state.customers import CustomerStore

        return self._get(
            "customers",
            lambda: CustomerStore(self.firestore, self.settings.firestore_timeout_seconds),
        )

    @property
    def verifier(self) -> TokenVerifier:
        from billing.auth import FirebaseTokenVerifier

        return self._get(
            "verifier",
            lambda: FirebaseTokenVerifier(
                self.settings.google_cloud_project, emulated=self.settings.auth_emulated
            ),
        )

    @property
    def auth_users(self) -> AuthUsers:
        """Firebase Auth user management (custom claims); the webhook's path only."""
        from billing.identity_toolkit import IdentityToolkit

        return self._get(
            "auth_users",
            lambda: IdentityToolkit(
                self.settings.google_cloud_project,
                emulator_host=self.settings.firebase_auth_emulator_host,
                timeout=self.settings.auth_timeout_seconds,
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
