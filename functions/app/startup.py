"""What an instance checks before it serves: the settings its function needs, and no more."""

from __future__ import annotations

import logging
import os

from app import registry
from core import logs
from core.settings import ConfigError, EnvSettings

log = logging.getLogger("app.boot")


def check(target: str | None) -> None:
    """Raises ConfigError naming what is missing or wrong for ``target`` (None: every function).

    The function's deployable loads its own settings class (billing's, or the email
    function's), and the function's registry row names the settings it needs beyond those.
    """
    if target is None:
        functions = list(registry.FUNCTIONS)
    elif target in registry.BY_NAME:
        functions = [registry.BY_NAME[target]]
    else:
        raise ConfigError(f"FUNCTION_TARGET={target!r} is not a function of this package")
    for deployable in sorted({fn.deployable for fn in functions}):
        mine = [fn for fn in functions if fn.deployable == deployable]
        required = sorted({name for fn in mine for name in fn.required_settings})
        try:
            settings: EnvSettings = registry.settings_class(deployable).load()
        except ConfigError as exc:
            # Name every problem at once: the unset ones the class could not tell are required.
            unset = {key.lower() for key, value in os.environ.items() if value}
            also = [name.upper() for name in required if name not in unset]
            also = [name for name in also if f"{name}:" not in str(exc)]
            if also:
                raise ConfigError(f"{exc}; missing: {', '.join(also)}") from None
            raise
        logs.configure(settings.log_level)
        settings.require(*required)
        if any(fn.kind == "browser" for fn in mine):
            from billing.config import BillingSettings

            if isinstance(settings, BillingSettings) and not settings.allowed_origins:
                log.warning(
                    "ALLOWED_ORIGINS is empty: browsers (which send Origin) will be refused "
                    "with 403"
                )
