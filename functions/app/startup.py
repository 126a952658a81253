"""What an instance checks before it serves: the settings its function needs, and no more."""

from __future__ import annotations

import logging

from app import registry
from billing.config import load_settings
from billing.errors import ConfigError
from core import logs

log = logging.getLogger("app.boot")


def check(target: str | None) -> None:
    """Raises ConfigError naming what is missing or wrong for ``target`` (None: every function)."""
    settings = load_settings()
    logs.configure(settings.log_level)
    if target is None:
        functions = list(registry.FUNCTIONS)
    elif target in registry.BY_NAME:
        functions = [registry.BY_NAME[target]]
    else:
        raise ConfigError(f"FUNCTION_TARGET={target!r} is not a function of this package")
    settings.require(*sorted({name for fn in functions for name in fn.required_settings}))
    if any(fn.kind == "browser" for fn in functions) and not settings.allowed_origins:
        log.warning(
            "ALLOWED_ORIGINS is empty: browsers (which send Origin) will be refused with 403"
        )
