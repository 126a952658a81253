"""A local stand-in for Stripe's REST API (API 2026-10-28.endive), for tests and offline runs.

Never deployed. Point ``stripe.StripeClient(..., base_addresses={"api": url})`` at it; see
``app.create_app`` for the Flask app and ``__main__`` for the CLI.
"""

from devstack.stripe_standin.app import create_app
from devstack.stripe_standin.options import StandinConfig
from devstack.stripe_standin.server import Standin

__all__ = ["Standin", "StandinConfig", "create_app"]
