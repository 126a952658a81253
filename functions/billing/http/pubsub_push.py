"""The Pub/Sub push policy: what an event function's outcome tells Pub/Sub.

A handler returns to acknowledge, or raises :class:`billing.usage.metering.RetryLater` to have
the message delivered again after the subscription's backoff (and, after its maximum
attempts, moved to the dead-letter topic). The answer is an HTTP error rather than a crash:
the reason is already logged in one line, and a crash would add functions-framework's own
traceback for an expected condition.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException

from billing.usage import metering


class Redeliver(HTTPException):
    code = 503

    def __init__(self, description: str, code: int = 503) -> None:
        super().__init__(description)
        self.code = code


def record_usage(cloud_event: Any) -> None:
    """Entry point (the registry): one usage message in, at most one meter event out."""
    try:
        metering.record_usage(cloud_event)
    except metering.RetryLater as error:
        raise Redeliver(str(error), error.status) from None
