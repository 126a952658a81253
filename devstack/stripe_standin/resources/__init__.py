"""HTTP handlers per resource; ``ROUTES`` collects every endpoint the stand-in serves."""

from __future__ import annotations

from devstack.stripe_standin.resources import (
    billing_portal,
    catalog,
    checkout,
    customers,
    entitlements,
    events,
    invoices,
    meters,
    payment_intents,
    payment_methods,
    promotion_codes,
    setup_intents,
    subscription_schedules,
    subscriptions,
    test_clocks,
)
from devstack.stripe_standin.routing import Route

ROUTES: list[Route] = [
    *customers.ROUTES,
    *catalog.ROUTES,
    *payment_methods.ROUTES,
    *setup_intents.ROUTES,
    *subscriptions.ROUTES,
    *subscription_schedules.ROUTES,
    *invoices.ROUTES,
    *payment_intents.ROUTES,
    *events.ROUTES,
    *entitlements.ROUTES,
    *promotion_codes.ROUTES,
    *checkout.ROUTES,
    *billing_portal.ROUTES,
    *meters.ROUTES,
    *test_clocks.ROUTES,
]
