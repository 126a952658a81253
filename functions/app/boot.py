"""Imported by main.py only: validates this instance's configuration when it starts.

The instance serves the function named by ``FUNCTION_TARGET`` (set by Cloud Functions and by
the local stack): its row in :mod:`app.registry` says which settings it needs, and only
its target module is imported, so a function pays at start only for what it uses. A bad
setting (or a catalog that fails its checks) is logged as one CRITICAL line naming it (no
traceback) and the process exits, so Cloud Run reports a failed start instead of serving
errors. Without ``FUNCTION_TARGET`` (tests importing main.py), every function's settings are
checked and nothing is preloaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, cast

import flask

from app import registry
from app.startup import check
from core import logs
from core.settings import ConfigError

log = logging.getLogger("app.boot")


def http(name: str) -> Callable[[flask.Request], flask.Response]:
    """The entry point of an HTTP function (browser, webhook, job)."""
    return cast(Callable[[flask.Request], flask.Response], registry.handler(name))


def event(name: str) -> Callable[[Any], None]:
    """The entry point of a CloudEvent function."""
    return cast(Callable[[Any], None], registry.handler(name))


logs.configure()
_target = os.environ.get("FUNCTION_TARGET")
try:
    check(_target)
    if _target is not None:
        # Import and build now: the import is the cold start, not a request. A catalog that
        # fails its checks (billing.catalog.CatalogError, loaded here where the plan rules
        # read it) is a configuration error like a bad setting.
        registry.handler(_target)
except ConfigError as exc:
    log.critical(str(exc))
    raise SystemExit(1) from None
