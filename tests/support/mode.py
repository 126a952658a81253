"""Which Stripe the integration tests run against: the local stand-in, or Stripe test mode.

``make test-stripe`` sets ``BILLING_TESTS_STRIPE=test-mode``: the same tests then start the
same stack without the stand-in, and the functions and the tests' own SDK talk to Stripe with
the developer's ``STRIPE_SECRET_KEY=sk_test_...``. Only the Stripe base address differs;
what needs the stand-in's control API (faults, latency, the clock, the request log, forcing a
status, completing 3-D Secure) is skipped there, saying so.
"""

from __future__ import annotations

import os

import pytest

from devstack.stripe_standin import seeding

AGAINST_STRIPE = os.environ.get("BILLING_TESTS_STRIPE") == "test-mode"

NEEDS_KEY = (
    "Stripe test mode: export STRIPE_SECRET_KEY=sk_test_... and ALLOWED_PRICE_IDS=<two recurring "
    "test-mode price ids, comma-separated>, then run `make test-stripe` (webhooks: also export "
    "STACK_BASE_PORT=18400, run `stripe listen --forward-to <the stripe-webhook URL in "
    ".devstack/test/stack.json>` and export the whsec_ it prints as STRIPE_WEBHOOK_SECRETS)"
)
STANDIN_ONLY = (
    "needs the Stripe stand-in's control API (faults, latency, clock, request log, forced "
    "statuses, 3-D Secure completion), which Stripe test mode does not have"
)

# The prices the functions sell, and so the tests buy: the catalog's offered prices by the
# stand-in's ids (what the local stack sells), or in test mode the developer's own
# (ALLOWED_PRICE_IDS reaches the functions and the tests alike).
_SOLD = (
    [p.strip() for p in os.environ.get("ALLOWED_PRICE_IDS", "").split(",") if p.strip()]
    if AGAINST_STRIPE
    else seeding.offered_price_ids()
)
PRICE = _SOLD[0] if _SOLD else "price_missing"
OTHER_PRICE = _SOLD[1] if len(_SOLD) > 1 else "price_missing"


def skip_without_standin() -> None:
    if AGAINST_STRIPE:
        pytest.skip(STANDIN_ONLY)


def test_mode_ready() -> bool:
    return bool(os.environ.get("STRIPE_SECRET_KEY", "").startswith("sk_test_")) and len(_SOLD) > 1
