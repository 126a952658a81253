"""A local stand-in for Stripe's REST API (API 2026-10-28.endive), for tests and offline runs.

Never deployed. Point ``stripe.StripeClient(..., base_addresses={"api": url})`` at it; see
``server.create_app`` for the Flask app and ``__main__`` for the CLI.
"""

from devstack.stripe_standin.config import StandinConfig
from devstack.stripe_standin.server import Standin, create_app

__all__ = ["Standin", "StandinConfig", "create_app"]
