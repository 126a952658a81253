"""The Stripe client every function shares: bounded timeouts, retries, counted calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe
import urllib3

from billing.config import BillingSettings
from core import call_counts
from core.http_pools import pool_for

# Connections kept open to Stripe per instance: one per request thread that may call at once
# (functions-framework's gunicorn runs up to cpu x 4 threads; 2 vCPU -> 8, with headroom).
POOL_SIZE = 16

# What a failed attempt means, as stripe-python's own RequestsClient decides it
# (``RequestsClient._handle_request_error``): a timeout or a connection that failed or broke
# is retried (the SDK retries with the same idempotency key, so a POST is not done twice); any
# other error is not, a certificate that does not verify (``urllib3.exceptions.SSLError``)
# among them.
_RETRIED = (
    urllib3.exceptions.TimeoutError,  # connect and read timeouts; a refused or unresolved host
    # A connection reset or closed before or during the answer. One difference from
    # RequestsClient: a break while the body is read (the status line already in) is retried
    # here, where requests raised ChunkedEncodingError, which RequestsClient does not retry.
    # Safe for what this product sends: POSTs carry an idempotency key (Stripe replays the
    # answer), reads are reads, and the one DELETE (a subscription's cancel) is checked by its
    # caller when Stripe answers that it is gone.
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ProxyError,
)


class Urllib3Client(stripe.HTTPClient):
    """stripe-python's HTTP client interface on one urllib3 pool shared by every thread of an
    instance, each attempt counted (retries included).

    stripe-python's default, ``RequestsClient``, sends through ``requests``: a session per
    thread unless handed one (``RequestsClient._request_internal``; stripe/stripe-python#531),
    and per call requests' preparing, settings merging, hooks, cookie jar and adapter around
    urllib3, which does the sending. Measured side by side on one Stripe read (``make bench``,
    docs/performance.md), that wrapping was about a third of the call's client CPU. This client
    hands the SDK's request to urllib3 directly, with what requests did for it that a Stripe
    call needs:

    - one pool of kept connections per host for all threads (urllib3's pools are thread-safe);
    - Stripe's CA bundle (``stripe.ca_bundle_path``, as the SDK passes to requests) for https;
    - the connect and read timeouts; no retries of its own (the SDK retries, with its backoff
      and idempotency keys) and no redirects (Stripe's API answers, it does not redirect);
    - a proxy from the environment (``HTTPS_PROXY``, ``ALL_PROXY``; ``NO_PROXY`` naming the
      API's host bypasses it), read once at start for the API's host as requests reads it, its
      credentials sent as ``Proxy-Authorization`` (``core.http_pools``, which Identity
      Toolkit's client shares).

    Nothing else of the environment is read: no ``~/.netrc``, whose entry for the API's host
    would have replaced the secret key's ``Authorization`` header under requests' ``trust_env``,
    and no cookies are kept (Stripe's API needs none). Answers are not asked compressed
    (requests asked for gzip): decompressing costs the instance CPU that the few kilobytes of a
    Stripe object do not repay."""

    name = "urllib3"

    def __init__(
        self,
        timeout: tuple[float, float],
        api_base: str = stripe.DEFAULT_API_BASE,
        pool_size: int = POOL_SIZE,
    ) -> None:
        super().__init__()
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._pool = pool_for(api_base, maxsize=pool_size, ca_certs=stripe.ca_bundle_path)

    def request(  # type: ignore[override]  # the base's signature is looser than it calls
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        call_counts.count(call_counts.STRIPE)
        try:
            answer = self._pool.request(
                method.upper(),
                url,
                body=post_data,
                headers=dict(headers or {}),
                timeout=self._timeout,
                retries=False,  # and so no redirects followed either
            )
        except _RETRIED as exc:
            raise _connection_error(exc, should_retry=True) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise _connection_error(exc, should_retry=False) from exc
        except Exception as exc:  # noqa: BLE001 - every failure is the SDK's connection error
            # Not chained either: a traceback would print the original's message.
            raise _connection_error(exc, should_retry=False) from None
        return answer.data, answer.status, answer.headers

    def close(self) -> None:
        self._pool.clear()


def _connection_error(exc: Exception, *, should_retry: bool) -> stripe.APIConnectionError:
    """The SDK's error for a failed attempt. urllib3's own errors are told in full (they name
    the network's failure, never a request header); any other error is named by its type
    alone: a header http.client refuses is quoted whole in its ``ValueError``, and a request's
    headers hold the secret key (``Authorization``)."""
    if isinstance(exc, urllib3.exceptions.HTTPError):
        detail = f"{type(exc).__name__}: {exc}"
    else:
        detail = f"{type(exc).__name__} (its message is withheld: it may quote a header)"
    return stripe.APIConnectionError(  # type: ignore[no-untyped-call]  # stripe-python untyped
        f"Unexpected error communicating with Stripe (network error: {detail})",
        should_retry=should_retry,
    )


def build(settings: BillingSettings) -> stripe.StripeClient:
    kwargs: dict[str, Any] = {}
    api_base = settings.stripe_api_base or stripe.DEFAULT_API_BASE
    if settings.stripe_api_base:
        kwargs["base_addresses"] = {"api": settings.stripe_api_base}
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        max_network_retries=settings.stripe_max_network_retries,
        http_client=Urllib3Client(
            (settings.stripe_connect_timeout, settings.stripe_read_timeout), api_base
        ),
        **kwargs,
    )
