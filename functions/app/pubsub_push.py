"""The event kind's answer to a Pub/Sub push, around every event handler (``app.registry``).

A handler that returns has its message acknowledged; one that raises
:class:`core.pubsub_push.Redeliver` is answered with its status (non-2xx), so Pub/Sub delivers
the message again and, after the subscription's maximum attempts, dead-letters it. An HTTP
error rather than a crash: the reason is already logged in one line, and a crash would add
functions-framework's own traceback for an expected condition. Here because core knows no
HTTP and the email function imports nothing of billing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException

from core.pubsub_push import Redeliver


class NotAcknowledged(HTTPException):
    code = 503

    def __init__(self, description: str, code: int) -> None:
        super().__init__(description)
        self.code = code


def answering(handler: Callable[[Any], Any]) -> Callable[[Any], None]:
    """``handler`` as functions-framework calls it: Redeliver becomes its HTTP status."""

    @functools.wraps(handler)
    def push(cloud_event: Any) -> None:
        try:
            handler(cloud_event)
        except Redeliver as error:
            raise NotAcknowledged(str(error), error.status) from None

    return push
