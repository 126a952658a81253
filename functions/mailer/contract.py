"""The message contract ``schemas/notification.v1.json`` as pydantic models.

Pydantic rather than a JSON Schema validator at run time: it is already loaded, and the schema
file is not part of the deployed source. ``tests/unit/mailer/test_contract.py`` runs both on
the same few hundred messages and requires the same verdict on each, so the two cannot drift.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

NotificationType = Literal[
    "payment_succeeded",
    "payment_failed",
    "payment_action_required",
    "subscription_canceled",
    "trial_will_end",
]
TYPES: frozenset[str] = frozenset(get_args(NotificationType))
INVOICE_TYPES = frozenset({"payment_succeeded", "payment_failed", "payment_action_required"})
SUBSCRIPTION_TYPES = frozenset({"subscription_canceled", "trial_will_end"})
VERSION = 1


def _json_integer(value: object) -> object:
    # JSON Schema's "integer" is a number with no fraction, 1.0 included; true is not one.
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[StrictInt, BeforeValidator(_json_integer)]
Amount = Annotated[Integer, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Subscription(_Strict):
    id: Annotated[StrictStr, Field(pattern=r"^sub_")]
    status: StrictStr
    current_period_end: Integer | None
    cancel_at_period_end: StrictBool
    ended_at: Integer | None
    trial_end: Integer | None


class Invoice(_Strict):
    id: Annotated[StrictStr, Field(pattern=r"^in_")]
    number: StrictStr | None
    currency: Annotated[StrictStr, Field(pattern=r"^[a-z]{3}$")]
    amount_due: Amount
    amount_paid: Amount
    period_start: Integer | None
    period_end: Integer | None
    hosted_invoice_url: StrictStr | None
    invoice_pdf: StrictStr | None
    next_payment_attempt: Integer | None


class Notification(_Strict):
    version: Annotated[Literal[1], BeforeValidator(_json_integer)]
    notification_id: Annotated[
        StrictStr, Field(pattern=r"^evt_[A-Za-z0-9_]+:[a-z_]+$", max_length=200)
    ]
    type: NotificationType
    occurred_at: Integer
    livemode: StrictBool
    uid: Annotated[StrictStr, Field(min_length=1)]
    email: StrictStr | None
    customer_name: StrictStr | None
    product_name: StrictStr | None
    subscription: Subscription | None
    invoice: Invoice | None

    @model_validator(mode="after")
    def _what_each_type_needs(self) -> Self:
        if self.type in INVOICE_TYPES and self.invoice is None:
            raise ValueError(f"invoice: a {self.type} notification needs an invoice")
        if self.type in SUBSCRIPTION_TYPES and self.subscription is None:
            raise ValueError(f"subscription: a {self.type} notification needs a subscription")
        return self


class Unsendable(Exception):
    """A message no retry can send: acknowledged, and logged once with ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _problems(error: ValidationError) -> str:
    # Field paths and rules only: never the values, which may be addresses or names.
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts[:5]) + (f" (and {len(parts) - 5} more)" if len(parts) > 5 else "")


def parse(data: bytes) -> Notification:
    """The notification in a message's data, or :class:`Unsendable` saying why not."""
    try:
        document: Any = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise Unsendable("not_utf8", "the message data is not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise Unsendable("not_json", "the message data is not JSON") from None
    if not isinstance(document, dict):
        raise Unsendable("schema", "the message data is not a JSON object")
    if "version" in document and document["version"] != VERSION:
        version = json.dumps(document["version"])[:40]
        raise Unsendable("unknown_version", f"version {version} is not one this function reads")
    if "type" in document and (
        not isinstance(document["type"], str) or document["type"] not in TYPES
    ):
        kind = json.dumps(document["type"])[:60]
        raise Unsendable("unknown_type", f"type {kind} is not a notification type")
    try:
        return Notification.model_validate(document)
    except ValidationError as error:
        raise Unsendable("schema", f"not a notification.v1: {_problems(error)}") from None
