"""The usage message ``schemas/usage.v1.json`` as the metering function reads it.

Pydantic, already loaded by the function; ``tests/unit/billing/usage/test_contract.py`` runs
this model, the schema and the team helper's checks (``packages/billing-usage``) on the same
messages and requires the same verdict from all three, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

VERSION = 1


def _json_integer(value: object) -> object:
    # JSON Schema's "integer" is a number with no fraction, 1.0 included; true is not one.
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[StrictInt, BeforeValidator(_json_integer)]


class UsageMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    version: Annotated[Literal[1], BeforeValidator(_json_integer)]
    id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
    subject: Annotated[StrictStr, Field(min_length=1, max_length=128, pattern=r"^[^/]+$")]
    meter: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_.]{0,99}$")]
    value: Annotated[Integer, Field(ge=1, le=1_000_000_000)]
    timestamp: Annotated[Integer, Field(ge=0)]

    def digest(self) -> str:
        """What makes two reports under one id the same usage (the ledger compares it)."""
        parts = f"{self.subject}\n{self.meter}\n{self.value}\n{self.timestamp}"
        return hashlib.sha256(parts.encode()).hexdigest()[:32]


class Refused(Exception):
    """A message no retry can record: acknowledged, and logged once with ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _problems(error: ValidationError) -> str:
    # Field paths and rules only, never values.
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts[:5]) + (f" (and {len(parts) - 5} more)" if len(parts) > 5 else "")


def parse(data: bytes) -> UsageMessage:
    """The usage in a message's data, or :class:`Refused` saying why not."""
    try:
        document: Any = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused("not_utf8", "the message data is not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise Refused("not_json", "the message data is not JSON") from None
    if not isinstance(document, dict):
        raise Refused("schema", "the message data is not a JSON object")
    if "version" in document and document["version"] != VERSION:
        version = json.dumps(document["version"])[:40]
        raise Refused("unknown_version", f"version {version} is not one this function reads")
    try:
        return UsageMessage.model_validate(document)
    except ValidationError as error:
        raise Refused("schema", f"not a usage.v1: {_problems(error)}") from None
