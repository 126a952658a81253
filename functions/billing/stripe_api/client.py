"""The Stripe client every function shares: bounded timeouts, retries, counted calls."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
import stripe

from billing.config import BillingSettings
from core import call_counts


class CountingRequestsClient(stripe.RequestsClient):
    """stripe's requests-based client, counting each HTTP attempt (retries included)."""

    def request(  # type: ignore[override]  # stripe's own RequestsClient differs from its base
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        call_counts.count(call_counts.STRIPE)
        return super().request(method, url, headers, post_data)


# Connections kept open to Stripe per instance: one per request thread that may call at once
# (functions-framework's gunicorn runs up to cpu x 4 threads; 2 vCPU -> 8, with headroom).
POOL_SIZE = 16


def shared_session(
    api_base: str = stripe.DEFAULT_API_BASE, pool_size: int = POOL_SIZE
) -> requests.Session:
    """One ``requests`` session for every thread of an instance.

    stripe-python gives each thread its own session unless handed one
    (``RequestsClient._request_internal``; stripe/stripe-python#531), so an instance would hold
    a TLS connection per thread that ever called Stripe, each opened at a cost. One session
    shares one connection pool (urllib3's pools are thread-safe). The thing a session does that
    is not thread-safe is updating its cookie jar, and Stripe's API needs no cookies: none are
    kept.

    The session never reads the process environment per call (``trust_env`` off). requests'
    ``trust_env`` would look up proxies and ``~/.netrc`` again on each call (about a tenth of a
    Stripe call's client CPU, measured in docs/performance.md), and a ``~/.netrc`` entry for the
    API's host would replace the secret key's ``Authorization`` header with its own
    credentials, sent to Stripe and to any proxy on the way. A proxy configured in the
    environment (``HTTPS_PROXY``, ``ALL_PROXY``; ``NO_PROXY`` naming the API's host bypasses
    them) is read once here, for ``api_base``, as requests would read it: an instance's
    environment does not change. Stripe's CA bundle is passed per call by stripe-python, so
    ``REQUESTS_CA_BUNDLE`` was never consulted either way."""
    session = requests.Session()
    session.trust_env = False
    proxies = requests.utils.get_environ_proxies(api_base)
    session.proxies = {scheme: url for scheme, url in proxies.items() if scheme != "no"}
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def build(settings: BillingSettings) -> stripe.StripeClient:
    kwargs: dict[str, Any] = {}
    api_base = settings.stripe_api_base or stripe.DEFAULT_API_BASE
    if settings.stripe_api_base:
        kwargs["base_addresses"] = {"api": settings.stripe_api_base}
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        max_network_retries=settings.stripe_max_network_retries,
        http_client=CountingRequestsClient(
            timeout=(settings.stripe_connect_timeout, settings.stripe_read_timeout),
            session=shared_session(api_base),
        ),
        **kwargs,
    )


def replayed(obj: stripe.StripeObject) -> bool:
    """Whether Stripe answered with the stored result of an earlier request with the same
    idempotency key (``Idempotent-Replayed: true``) rather than performing this one."""
    response = obj.last_response
    return response is not None and response.headers.get("Idempotent-Replayed") == "true"
