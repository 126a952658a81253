"""HTTP handlers per resource; ``ROUTES`` collects every endpoint the stand-in serves."""

from __future__ import annotations

from devstack.stripe_standin.resources import (
    customers,
    events,
    invoices,
    payment_intents,
    payment_methods,
    setup_intents,
    subscriptions,
)
from devstack.stripe_standin.routing import Route

ROUTES: list[Route] = [
    *customers.ROUTES,
    *payment_methods.ROUTES,
    *setup_intents.ROUTES,
    *subscriptions.ROUTES,
    *invoices.ROUTES,
    *payment_intents.ROUTES,
    *events.ROUTES,
]
