"""The public surface: every cloud function, by its entry-point name.

Importing this module validates the configuration for the function this instance serves
(``FUNCTION_TARGET``, set by Cloud Functions and by the local stack), so a missing or
malformed setting stops the instance at start with a message naming it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from billing import logs
from billing.config import load_settings
from billing.customers import create_customer
from billing.errors import ConfigError
from billing.http import Endpoint
from billing.invoices import retry_invoice
from billing.payment_methods import (
    create_setup_intent,
    retrieve_payment_method,
    update_payment_method,
)
from billing.subscriptions import (
    create_subscription,
    handle_subscription,
    retrieve_subscription,
)

ENDPOINTS: dict[str, Endpoint[Any]] = {
    ep.name: ep
    for ep in (
        create_customer,
        create_subscription,
        handle_subscription,
        retrieve_subscription,
        retrieve_payment_method,
        create_setup_intent,
        update_payment_method,
        retry_invoice,
    )
}


def boot() -> None:
    settings = load_settings()
    logs.configure(settings.log_level)
    target = os.environ.get("FUNCTION_TARGET")
    if target is not None and target in ENDPOINTS:
        needed = set(ENDPOINTS[target].requires)
    elif target is None:
        needed = {name for ep in ENDPOINTS.values() for name in ep.requires}
    else:
        raise ConfigError(f"FUNCTION_TARGET={target!r} is not a function of this package")
    settings.require(*sorted(needed))
    if not settings.allowed_origins:
        logging.getLogger("billing.boot").warning(
            "ALLOWED_ORIGINS is empty: browsers (which send Origin) will be refused with 403"
        )


__all__ = [
    "ENDPOINTS",
    "boot",
    "create_customer",
    "create_setup_intent",
    "create_subscription",
    "handle_subscription",
    "retrieve_payment_method",
    "retrieve_subscription",
    "retry_invoice",
    "update_payment_method",
]
