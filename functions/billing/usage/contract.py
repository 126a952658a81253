"""The usage message ``schemas/usage.v1.json`` as the metering function reads it.

Read as every contract is (:mod:`core.contract`); ``tests/unit/billing/usage/test_contract.py``
runs this model, the schema and the team helper's checks (``packages/billing-usage``) on the same
messages and requires the same verdict from all three, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StrictStr

from core import contract
from core.contract import Integer
from core.pubsub_push import Unprocessable

VERSION = 1

# A message no retry can record: acknowledged, and logged once with its ``reason``.
Refused = Unprocessable


class UsageMessage(contract.Strict):
    version: Annotated[Literal[1], BeforeValidator(contract.json_integer)]
    id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
    subject: Annotated[StrictStr, Field(min_length=1, max_length=128, pattern=r"^[^/]+$")]
    meter: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_.]{0,99}$")]
    value: Annotated[Integer, Field(ge=1, le=1_000_000_000)]
    timestamp: Annotated[Integer, Field(ge=0)]

    def digest(self) -> str:
        """What makes two reports under one id the same usage (the ledger compares it)."""
        parts = f"{self.subject}\n{self.meter}\n{self.value}\n{self.timestamp}"
        return hashlib.sha256(parts.encode()).hexdigest()[:32]


def parse(data: bytes) -> UsageMessage:
    """The usage in a message's data, or :class:`Refused` saying why not."""
    return contract.validate(UsageMessage, contract.json_object(data, VERSION), "usage.v1")
