"""One Pub/Sub push delivery, as every event function (the mailer, metering) reads and answers it.

Pub/Sub pushes a ``messagePublished`` CloudEvent whose data is the push envelope
``{"message": {"data": <base64>, "attributes": {...}, "messageId": ...}, "subscription": ...}``
(https://cloud.google.com/pubsub/docs/push#receive_push, "Receive messages"). What the handler
does next is what the function's answer tells Pub/Sub
(https://cloud.google.com/pubsub/docs/push#receive_push: a success status acknowledges, any
other status has the message delivered again with the subscription's backoff):

- returns: acknowledged. Done now or before, or :class:`Unprocessable` (no retry could handle
  it), which the handler logs once as an ERROR naming its ``reason``.
- raises :class:`Redeliver`: not acknowledged (``status`` 503, or 409 while another delivery
  holds the same message), so Pub/Sub delivers it again after the backoff and, after the
  subscription's maximum delivery attempts, moves it to its dead-letter topic
  (https://cloud.google.com/pubsub/docs/handling-failures), where an alert fires
  (infra/modules/pubsub-push). ``app.pubsub_push`` turns it into that HTTP status: core knows
  no HTTP.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Unprocessable(Exception):
    """A message no retry can handle: acknowledged, and logged once with ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Redeliver(Exception):
    """Not acknowledged: Pub/Sub delivers the message again later (the reason already logged).

    ``status`` is the push's answer: 503 when a dependency failed, 409 while another delivery
    of the same message is handling it.
    """

    def __init__(self, description: str, status: int = 503) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"status {status} would acknowledge the message")
        super().__init__(description)
        self.status = status


@dataclass(frozen=True)
class PubSubMessage:
    message_id: str
    data: bytes
    attributes: Mapping[str, str]


def message_of(event_data: Any) -> PubSubMessage:
    """The Pub/Sub message inside a messagePublished event's data, or :class:`Unprocessable`.

    An absent ``data`` is an empty payload (Pub/Sub allows a message of attributes only);
    attributes that are not an object are ignored, and their values read as text.
    """
    message = event_data.get("message") if isinstance(event_data, Mapping) else None
    if not isinstance(message, Mapping):
        raise Unprocessable("not_pubsub", "the event carries no Pub/Sub message")
    attributes = message.get("attributes") or {}
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    try:
        payload = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise Unprocessable("not_base64", "the message data is not base64") from None
    if not isinstance(attributes, Mapping):
        attributes = {}
    return PubSubMessage(message_id, payload, {str(k): str(v) for k, v in attributes.items()})


def check_attributes(attributes: Mapping[str, str], expected: Mapping[str, str]) -> None:
    """The publisher repeats some fields as attributes; one that disagrees is a publisher bug,
    and which of the two is right cannot be known here: :class:`Unprocessable`."""
    for key, value in expected.items():
        if key in attributes and attributes[key] != value:
            raise Unprocessable(
                "attribute_mismatch", f"the message attribute {key!r} disagrees with its data"
            )
