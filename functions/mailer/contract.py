"""The message contract ``schemas/notification.v1.json`` as pydantic models.

Read as every contract is (:mod:`core.contract`); ``tests/unit/mailer/test_contract.py`` runs
the model and the schema on the same few hundred messages and requires the same verdict on
each, so the two cannot drift.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BeforeValidator, Field, StrictBool, StrictStr, model_validator

from core import contract
from core.contract import Integer, Strict
from core.pubsub_push import Unprocessable

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


Amount = Annotated[Integer, Field(ge=0)]


class Subscription(Strict):
    id: Annotated[StrictStr, Field(pattern=r"^sub_")]
    status: StrictStr
    current_period_end: Integer | None
    cancel_at_period_end: StrictBool
    ended_at: Integer | None
    trial_end: Integer | None


class Invoice(Strict):
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


class Notification(Strict):
    version: Annotated[Literal[1], BeforeValidator(contract.json_integer)]
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


# A message no retry can send: acknowledged, and logged once with its ``reason``.
Unsendable = Unprocessable


def parse(data: bytes) -> Notification:
    """The notification in a message's data, or :class:`Unsendable` saying why not."""
    document: dict[str, Any] = contract.json_object(data, VERSION)
    if "type" in document and (
        not isinstance(document["type"], str) or document["type"] not in TYPES
    ):
        kind = json.dumps(document["type"])[:60]
        raise Unsendable("unknown_type", f"type {kind} is not a notification type")
    return contract.validate(Notification, document, "notification.v1")
