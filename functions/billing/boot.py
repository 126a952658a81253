"""Imported by main.py only: validates the configuration when the instance starts.

Kept apart from :mod:`billing.endpoints` so tests can import the endpoints without an
environment, while a deployed instance with a bad setting never serves a request. The
problem is logged as one CRITICAL line naming the setting (no traceback), and the process
exits, so Cloud Run reports a failed start instead of serving errors.
"""

import logging

from billing import endpoints, logs
from billing.errors import ConfigError

logs.configure()
try:
    endpoints.boot()
except ConfigError as exc:
    logging.getLogger("billing.boot").critical(str(exc))
    raise SystemExit(1) from None

__all__ = ["endpoints"]
