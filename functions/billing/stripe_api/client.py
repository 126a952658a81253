"""The Stripe client every function shares: bounded timeouts, retries, counted calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from billing.config import Settings
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


def build(settings: Settings) -> stripe.StripeClient:
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


def replayed(obj: stripe.StripeObject) -> bool:
    """Whether Stripe answered with the stored result of an earlier request with the same
    idempotency key (``Idempotent-Replayed: true``) rather than performing this one."""
    response = obj.last_response
    return response is not None and response.headers.get("Idempotent-Replayed") == "true"
